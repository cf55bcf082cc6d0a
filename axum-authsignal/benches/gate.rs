//! What the step-up gate costs, measured against the emulator in-process on loopback.
//!
//! `cargo bench --bench gate`; the numbers and how to read them are in benches/RESULTS.md.
//! Requests go through the router with `tower::ServiceExt::oneshot` (no TCP on the app
//! side), so the only network is the gate's own round trip to the emulator.
//!
//! Every benchmark that talks to the emulator starts a fresh one (untimed) every
//! `ROTATE_EVERY` actions (`benches/support/`): the gate and the direct calls it is
//! compared with always see the same, small emulator.

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::post;
use axum_authsignal::store::{
    MemoryStore, PendingChallenge, PendingChallengeStore, RecordKey, RecordKind,
};
use criterion::{BatchSize, BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use http::{Method, StatusCode};
use support::{
    ACTION, Args, Backend, Env, Prepared, Preparer, ROTATE_EVERY, USER, median, ok, quantile,
    request, runtime, time_verified_retries, timed_in_fresh_envs,
};
use tower::ServiceExt;

/// Records each store task cycles through (put then take of the same key).
const KEY_POOL: usize = 1024;

/// 1. The same trivial handler without the gate, behind it on an `ALLOW` action, and the
///    `track` round trip alone.
fn leg1_allow(c: &mut Criterion) {
    let rt = runtime();
    let bare = Router::new().route("/withdraw", post(ok));
    rt.block_on(async {
        let env = Env::start(false, &Backend::Memory).await;
        assert_eq!(env.gated_call(None).await, StatusCode::OK);
        env.stop().await;
    });

    let mut group = c.benchmark_group("leg1_allow");
    group.bench_function("a_handler_without_gate", |b| {
        b.to_async(&rt).iter(|| async {
            let response = bare.clone().oneshot(request(None)).await;
            assert_eq!(response.expect("infallible").status(), StatusCode::OK);
        });
    });
    group.bench_function("b_gate_allow_with_track", |b| {
        b.to_async(&rt).iter_custom(|iters| {
            timed_in_fresh_envs(iters, false, &Backend::Memory, async |env: &Env| {
                assert_eq!(env.gated_call(None).await, StatusCode::OK);
            })
        });
    });
    group.bench_function("c_direct_track", |b| {
        b.to_async(&rt).iter_custom(|iters| {
            timed_in_fresh_envs(iters, false, &Backend::Memory, async |env: &Env| {
                env.direct_track().await
            })
        });
    });
    group.finish();
}

/// 2. Leg 2: a verified API retry through the gate (validate round trip, atomic take,
///    body hash, handler) against the `validateChallenge` round trip alone.
fn leg2_verified_retry(c: &mut Criterion) {
    let rt = runtime();
    let mut group = c.benchmark_group("leg2_verified_retry");
    group.bench_function("gate_retry_with_token", |b| {
        time_verified_retries(b, &rt, &Backend::Memory);
    });
    group.bench_function("direct_validate_challenge", |b| {
        let mut preparer = Preparer::new(&rt, &Backend::Memory);
        b.to_async(&rt).iter_batched(
            || preparer.next(),
            |prepared: Prepared| async move {
                prepared.env.direct_validate(&prepared.token).await;
                prepared
            },
            BatchSize::PerIteration,
        );
    });
    group.finish();
}

/// An API challenge's record, as the gate builds it.
fn api_record() -> PendingChallenge {
    PendingChallenge::challenge(USER, ACTION, Method::POST, "/withdraw").with_body(
        Some("application/json".into()),
        None,
        [7; 32],
    )
}

/// Keys shaped like the gate's (UUIDs), disjoint between tasks.
fn key_pool() -> Vec<RecordKey> {
    (0..KEY_POOL).map(|_| challenge_key(USER)).collect()
}

fn challenge_key(user: &str) -> RecordKey {
    RecordKey::new(
        RecordKind::Challenge,
        user,
        uuid::Uuid::new_v4().to_string(),
    )
}

/// `ops` put-then-take cycles, each with the key and record the gate would hand over.
async fn put_take(store: &MemoryStore, keys: &[RecordKey], record: &PendingChallenge, ops: u64) {
    const TTL: Duration = Duration::from_secs(600);
    for (_, key) in (0..ops).zip(keys.iter().cycle()) {
        store
            .put(key, record.clone(), TTL)
            .await
            .expect("room in the store");
        let taken = store.take(key).await.expect("the memory store never fails");
        assert!(taken.is_some());
    }
}

/// 3. `MemoryStore` put+take, one task or two contending, with 0 or 10 000 other
///    records held.
fn store_throughput(c: &mut Criterion) {
    let rt = runtime();
    let record = Arc::new(api_record());
    let mut group = c.benchmark_group("memory_store_put_take");
    group.throughput(Throughput::Elements(1));
    for held in [0_usize, 10_000] {
        // Room for the held records and the ones in flight: a full store would sweep on
        // every put and then refuse.
        let store = Arc::new(
            MemoryStore::builder()
                .capacity(held + 2 * KEY_POOL + 16)
                .per_user(KEY_POOL + 1)
                .build(),
        );
        rt.block_on(async {
            for n in 0..held {
                let key = challenge_key(&format!("user-{n}"));
                store
                    .put(&key, api_record(), Duration::from_secs(3600))
                    .await
                    .expect("room");
            }
        });
        assert_eq!(store.len(), held);
        for tasks in [1_u64, 2] {
            let pools: Vec<Arc<Vec<RecordKey>>> =
                (0..tasks).map(|_| Arc::new(key_pool())).collect();
            let id = BenchmarkId::new(format!("{tasks}_task"), format!("{held}_held"));
            group.bench_function(id, |b| {
                b.to_async(&rt).iter_custom(|iters| {
                    let store = store.clone();
                    let record = record.clone();
                    let pools = pools.clone();
                    async move {
                        let per_task = iters.div_ceil(tasks);
                        let started = Instant::now();
                        let running: Vec<_> = pools
                            .into_iter()
                            .map(|keys| {
                                let store = store.clone();
                                let record = record.clone();
                                tokio::spawn(async move {
                                    put_take(&store, &keys, &record, per_task).await;
                                })
                            })
                            .collect();
                        for task in running {
                            task.await.expect("the task completes");
                        }
                        // Per put+take cycle, all tasks together.
                        started
                            .elapsed()
                            .mul_f64(iters as f64 / (per_task * tasks) as f64)
                    }
                });
            });
        }
    }
    group.finish();
}

/// Both legs again with the gate and the direct call alternated call by call (the first
/// of each pair in turn), printed as medians: the machine's load drifts between two
/// benchmarks, much less between two neighbouring calls, so the median of the per-pair
/// differences is the steadiest estimate of the gate's own cost.
fn paired(_: &mut Criterion) {
    let args = Args::read();
    let wanted = |name: &str| args.wanted(name);
    // `cargo test --benches` runs without `--bench`: a few pairs prove the code runs.
    let pairs = if args.bench { PAIRS } else { 4 };
    let rt = runtime();
    if wanted("paired/leg1_allow") {
        let timings = rt.block_on(async {
            let mut timings = Timings::default();
            let mut done = 0;
            while done < pairs {
                let env = Env::start(false, &Backend::Memory).await;
                env.gated_call(None).await;
                env.direct_track().await;
                for _ in 0..(pairs - done).min(ROTATE_EVERY / 2) {
                    timings
                        .pair(
                            async || assert_eq!(env.gated_call(None).await, StatusCode::OK),
                            async || env.direct_track().await,
                        )
                        .await;
                    done += 1;
                }
                env.stop().await;
            }
            timings
        });
        timings.print(
            "paired/leg1_allow",
            "b_gate_allow_with_track",
            "c_direct_track",
        );
    }
    if wanted("paired/leg2_verified_retry") {
        let timings = rt.block_on(async {
            let http = reqwest::Client::new();
            let mut timings = Timings::default();
            let mut done = 0;
            while done < pairs {
                let env = Env::start(true, &Backend::Memory).await;
                let chunk = (pairs - done).min(ROTATE_EVERY / 2);
                let mut tokens = Vec::new();
                for _ in 0..2 * chunk {
                    tokens.push(env.verified_token(&http).await);
                }
                for pair in tokens.chunks_exact(2) {
                    timings
                        .pair(
                            async || {
                                let status = env.gated_call(Some(&pair[0])).await;
                                assert_eq!(status, StatusCode::OK);
                            },
                            async || env.direct_validate(&pair[1]).await,
                        )
                        .await;
                }
                done += chunk;
                env.stop().await;
            }
            timings
        });
        timings.print(
            "paired/leg2_verified_retry",
            "gate_retry_with_token",
            "direct_validate_challenge",
        );
    }
}

/// Pairs per leg in [`paired`].
const PAIRS: u64 = 3000;

/// The times of the gate's call and the direct call, pair by pair.
#[derive(Default)]
struct Timings {
    gate: Vec<f64>,
    direct: Vec<f64>,
}

impl Timings {
    async fn pair(&mut self, gate: impl AsyncFnOnce(), direct: impl AsyncFnOnce()) {
        let micros = |started: Instant| started.elapsed().as_secs_f64() * 1e6;
        if self.gate.len().is_multiple_of(2) {
            let started = Instant::now();
            gate().await;
            self.gate.push(micros(started));
            let started = Instant::now();
            direct().await;
            self.direct.push(micros(started));
        } else {
            let started = Instant::now();
            direct().await;
            self.direct.push(micros(started));
            let started = Instant::now();
            gate().await;
            self.gate.push(micros(started));
        }
    }

    fn print(&self, name: &str, gate_name: &str, direct_name: &str) {
        let differences: Vec<f64> = self
            .gate
            .iter()
            .zip(&self.direct)
            .map(|(gate, direct)| gate - direct)
            .collect();
        let (gate, direct) = (median(&self.gate), median(&self.direct));
        let (difference, low, high) = (
            median(&differences),
            quantile(&differences, 0.25),
            quantile(&differences, 0.75),
        );
        println!("{name} ({} pairs, medians)", self.gate.len());
        println!("    {gate_name}: {gate:.1} µs");
        println!("    {direct_name}: {direct:.1} µs");
        println!(
            "    gate - direct, per pair: {difference:.1} µs (IQR {low:.1} .. {high:.1}), {:.1} % of the direct call",
            100.0 * difference / direct
        );
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(30)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4))
        .without_plots();
    targets = leg1_allow, leg2_verified_retry, store_throughput, paired
}
criterion_main!(benches);
