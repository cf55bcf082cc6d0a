//! The gate on `RedisStore` against the gate on `MemoryStore`, side by side in one run,
//! next to a Redis round trip measured in the same run:
//!
//! - leg 1 on a challenged action: `track` answers `CHALLENGE_REQUIRED`, the gate puts the
//!   pending challenge (one store operation) and answers 401 with the token;
//! - leg 2: the verified API retry: `validateChallenge`, the atomic take (one store
//!   operation), the request binding, the handler;
//! - a `PING` on a multiplexed connection to the same `redis-server`: one loopback round
//!   trip, the least a store operation in Redis can add.
//!
//! The `round_trips` section counts, with `MONITOR`, the commands the gate's store sent
//! Redis per gate call on each leg (a command a script runs inside Redis is no round
//! trip, and is told apart): how many round trips `RedisStore` adds, whatever the time
//! they took on a busy machine.
//!
//! `cargo bench --bench gate_redis`; the numbers and how to read them are in
//! benches/RESULTS.md. It starts its own `redis-server` on loopback, persistence off
//! (`tests/redis_support/`), and skips with a notice where there is none. The app is
//! driven with `tower::ServiceExt::oneshot`, the emulator runs in-process on loopback
//! (`benches/support/`). Criterion's rows come first; the `paired/*` section then runs the
//! three calls one after another, rotating which goes first, and prints medians of the
//! differences, which the machine's drifting load disturbs much less.

#[path = "../tests/support/redis.rs"]
mod redis_support;
mod support;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use http::StatusCode;
use support::{
    Args, Backend, Env, ROTATE_EVERY, median, ping, quantile, redis_connection, runtime,
    time_verified_retries, timed_in_fresh_envs,
};

/// Rounds of the three calls per leg in [`paired`].
const ROUNDS: u64 = 3000;
/// Gate calls per leg whose commands [`round_trips`] counts.
const COUNTED_CALLS: usize = 100;

/// The Redis URL, or `None` (after the notice) where `redis-server` is missing.
fn redis_url() -> Option<String> {
    redis_support::shared().map(redis_support::RedisServer::url)
}

/// The commands clients send one Redis server, seen through `MONITOR` on a connection of
/// its own, by name. Redis prints a command a script runs as from `lua`: those are not
/// counted, as they cost no round trip.
struct Monitor {
    lines: tokio::io::Lines<tokio::io::BufReader<tokio::net::TcpStream>>,
    marker: redis::aio::ConnectionManager,
}

impl Monitor {
    async fn start(server: &redis_support::RedisServer) -> Self {
        use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _};
        let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", server.port()))
            .await
            .expect("a connection to Redis");
        stream.write_all(b"MONITOR\r\n").await.expect("MONITOR");
        let mut lines = tokio::io::BufReader::new(stream).lines();
        let ok = lines.next_line().await.expect("MONITOR's answer");
        assert_eq!(ok.as_deref(), Some("+OK"));
        Self {
            lines,
            marker: redis_connection(&server.url()).await,
        }
    }

    /// The commands sent since the last call (or the start), by name; the marker this
    /// sends to know where they end is not one of them.
    async fn commands(&mut self) -> BTreeMap<String, usize> {
        let marker = format!("gate-redis-marker-{}", uuid::Uuid::new_v4());
        let _: String = redis::cmd("ECHO")
            .arg(&marker)
            .query_async(&mut self.marker)
            .await
            .expect("ECHO");
        let mut seen = BTreeMap::new();
        loop {
            let next = tokio::time::timeout(Duration::from_secs(10), self.lines.next_line());
            let line = next
                .await
                .expect("MONITOR shows the marker")
                .expect("MONITOR's output")
                .expect("MONITOR goes on");
            if line.contains(&marker) {
                return seen;
            }
            // `+<time> [<db> <client address, or lua>] "<COMMAND>" "<arg>" ...`
            let Some((client, command)) = line.split_once("] ") else {
                continue;
            };
            if client.ends_with(" lua") {
                continue;
            }
            let name = command.split('"').nth(1).unwrap_or_default();
            *seen.entry(name.to_ascii_uppercase()).or_default() += 1;
        }
    }
}

/// 0. The commands `RedisStore` sends per gate call on each leg ([`COUNTED_CALLS`] calls,
///    after a first that loads its scripts), printed.
fn round_trips(_: &mut Criterion) {
    let Some(server) = redis_support::shared() else {
        return;
    };
    if !Args::read().wanted("round_trips") {
        return;
    }
    let rt = runtime();
    rt.block_on(async {
        let redis = Backend::redis(&server.url()).await;
        let http = reqwest::Client::new();
        let env = Env::start(true, &redis).await;
        // The first call of each script may load it (`NOSCRIPT`, then `EVAL`).
        let token = env.verified_token(&http).await;
        assert_eq!(env.gated_call(Some(&token)).await, StatusCode::OK);
        let mut monitor = Monitor::start(server).await;
        monitor.commands().await;
        for _ in 0..COUNTED_CALLS {
            assert_eq!(env.gated_call(None).await, StatusCode::UNAUTHORIZED);
        }
        print_round_trips("leg 1, challenged (401)", &monitor.commands().await);
        let mut tokens = Vec::with_capacity(COUNTED_CALLS);
        for _ in 0..COUNTED_CALLS {
            tokens.push(env.verified_token(&http).await);
        }
        monitor.commands().await;
        for token in &tokens {
            assert_eq!(env.gated_call(Some(token)).await, StatusCode::OK);
        }
        print_round_trips("leg 2, verified retry (200)", &monitor.commands().await);
        env.stop().await;
    });
}

fn print_round_trips(leg: &str, commands: &BTreeMap<String, usize>) {
    let total: usize = commands.values().sum();
    println!(
        "round_trips/{leg}: {:.2} Redis commands per gate call ({commands:?} in {COUNTED_CALLS} calls)",
        total as f64 / COUNTED_CALLS as f64
    );
}

/// 1. Leg 1 on a challenged action, on each store, and the Redis round trip.
fn leg1_challenge(c: &mut Criterion) {
    let Some(url) = redis_url() else { return };
    let rt = runtime();
    let (backends, pings) = rt.block_on(async {
        let backends = [
            ("memory_store", Backend::Memory),
            ("redis_store", Backend::redis(&url).await),
        ];
        (backends, redis_connection(&url).await)
    });
    let mut group = c.benchmark_group("leg1_challenge");
    for (name, backend) in &backends {
        group.bench_function(*name, |b| {
            b.to_async(&rt).iter_custom(|iters| {
                timed_in_fresh_envs(iters, true, backend, async |env: &Env| {
                    assert_eq!(env.gated_call(None).await, StatusCode::UNAUTHORIZED);
                })
            });
        });
    }
    group.bench_function("redis_ping", |b| {
        b.to_async(&rt).iter(|| ping(&pings));
    });
    group.finish();
}

/// 2. Leg 2, a verified API retry, on each store.
fn leg2_verified_retry(c: &mut Criterion) {
    let Some(url) = redis_url() else { return };
    let rt = runtime();
    let backends = rt.block_on(async {
        [
            ("memory_store", Backend::Memory),
            ("redis_store", Backend::redis(&url).await),
        ]
    });
    let mut group = c.benchmark_group("leg2_verified_retry");
    for (name, backend) in &backends {
        group.bench_function(*name, |b| time_verified_retries(b, &rt, backend));
    }
    group.finish();
}

/// Both legs again, a call on each store and a `PING` one after another, the first of
/// the three rotating from round to round, printed as medians.
fn paired(_: &mut Criterion) {
    let Some(url) = redis_url() else { return };
    let args = Args::read();
    // `cargo test --benches` runs without `--bench`: a few rounds prove the code runs.
    let rounds = if args.bench { ROUNDS } else { 4 };
    let rt = runtime();
    let (redis, pings) =
        rt.block_on(async { (Backend::redis(&url).await, redis_connection(&url).await) });
    if args.wanted("paired/leg1_challenge") {
        let timings = rt.block_on(async {
            let mut timings = Triplets::default();
            let mut done = 0;
            while done < rounds {
                let memory_env = Env::start(true, &Backend::Memory).await;
                let redis_env = Env::start(true, &redis).await;
                // Warm the connections outside the timings.
                memory_env.gated_call(None).await;
                redis_env.gated_call(None).await;
                for _ in 0..(rounds - done).min(ROTATE_EVERY) {
                    timings
                        .round(
                            async || {
                                let status = memory_env.gated_call(None).await;
                                assert_eq!(status, StatusCode::UNAUTHORIZED);
                            },
                            async || {
                                let status = redis_env.gated_call(None).await;
                                assert_eq!(status, StatusCode::UNAUTHORIZED);
                            },
                            async || ping(&pings).await,
                        )
                        .await;
                    done += 1;
                }
                memory_env.stop().await;
                redis_env.stop().await;
            }
            timings
        });
        timings.print("paired/leg1_challenge (track -> 401, one put)");
    }
    if args.wanted("paired/leg2_verified_retry") {
        let timings = rt.block_on(async {
            let http = reqwest::Client::new();
            let mut timings = Triplets::default();
            let mut done = 0;
            while done < rounds {
                let chunk = (rounds - done).min(ROTATE_EVERY / 2);
                let memory_env = Env::start(true, &Backend::Memory).await;
                let redis_env = Env::start(true, &redis).await;
                let mut tokens = Vec::new();
                for _ in 0..chunk {
                    let memory_token = memory_env.verified_token(&http).await;
                    tokens.push((memory_token, redis_env.verified_token(&http).await));
                }
                for (memory_token, redis_token) in &tokens {
                    timings
                        .round(
                            async || {
                                let status = memory_env.gated_call(Some(memory_token)).await;
                                assert_eq!(status, StatusCode::OK);
                            },
                            async || {
                                let status = redis_env.gated_call(Some(redis_token)).await;
                                assert_eq!(status, StatusCode::OK);
                            },
                            async || ping(&pings).await,
                        )
                        .await;
                }
                done += chunk;
                memory_env.stop().await;
                redis_env.stop().await;
            }
            timings
        });
        timings.print("paired/leg2_verified_retry (validate -> take -> handler)");
    }
}

/// The times of the call on `MemoryStore`, the call on `RedisStore` and the `PING`, in µs,
/// round by round.
#[derive(Default)]
struct Triplets {
    memory: Vec<f64>,
    redis: Vec<f64>,
    ping: Vec<f64>,
}

/// Runs `op` and returns how long it took, in µs.
async fn micros(op: impl AsyncFnOnce()) -> f64 {
    let started = Instant::now();
    op().await;
    started.elapsed().as_secs_f64() * 1e6
}

impl Triplets {
    async fn round(
        &mut self,
        memory: impl AsyncFnOnce(),
        redis: impl AsyncFnOnce(),
        ping: impl AsyncFnOnce(),
    ) {
        let (m, r, p) = match self.memory.len() % 3 {
            0 => {
                let m = micros(memory).await;
                let r = micros(redis).await;
                (m, r, micros(ping).await)
            }
            1 => {
                let r = micros(redis).await;
                let p = micros(ping).await;
                (micros(memory).await, r, p)
            }
            _ => {
                let p = micros(ping).await;
                let m = micros(memory).await;
                (m, micros(redis).await, p)
            }
        };
        self.memory.push(m);
        self.redis.push(r);
        self.ping.push(p);
    }

    fn print(&self, name: &str) {
        let added: Vec<f64> = self
            .redis
            .iter()
            .zip(&self.memory)
            .map(|(redis, memory)| redis - memory)
            .collect();
        let ping = median(&self.ping);
        let difference = median(&added);
        println!("{name} ({} rounds, medians)", self.memory.len());
        println!("    gate on MemoryStore: {:.1} µs", median(&self.memory));
        println!("    gate on RedisStore: {:.1} µs", median(&self.redis));
        println!(
            "    PING: {ping:.1} µs (IQR {:.1} .. {:.1})",
            quantile(&self.ping, 0.25),
            quantile(&self.ping, 0.75)
        );
        println!(
            "    RedisStore - MemoryStore, per round: {difference:.1} µs (IQR {:.1} .. {:.1}) = {:.2} PINGs",
            quantile(&added, 0.25),
            quantile(&added, 0.75),
            difference / ping
        );
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(30)
        .warm_up_time(std::time::Duration::from_secs(1))
        .measurement_time(std::time::Duration::from_secs(4))
        .without_plots();
    targets = round_trips, leg1_challenge, leg2_verified_retry, paired
}
criterion_main!(benches);
