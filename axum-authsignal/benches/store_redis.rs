//! `RedisStore` against `MemoryStore`, side by side in one run: the put+take round trip of
//! one pending challenge (and of a spent token, which goes through the same two scripts,
//! as every kind of record does), next to the bare Redis round trips it is made of.
//!
//! `cargo bench --bench store_redis` starts its own `redis-server` on loopback
//! (`tests/redis_support/`), runs a bounded number of operations (about 200 000 in all)
//! and prints a table. No criterion: each put+take is timed alone, the rounds of every
//! row are interleaved, and medians and 99th percentiles are printed.

#[path = "../tests/support/redis.rs"]
mod redis_support;

use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use axum_authsignal::store::suite::{TTL, record};
use axum_authsignal::store::{
    MemoryStore, PendingChallengeStore, RecordKey, RecordKind, RedisStore,
};
use redis::aio::ConnectionManager;

/// Rounds of every row, interleaved, and put+takes per round.
const ROUNDS: usize = 5;
const PER_ROUND: usize = 2_000;
/// The concurrent rows: tasks, and put+takes per task.
const TASKS: usize = 64;
const PER_TASK: usize = 200;

/// One put and one take of a fresh key, as the gate's two legs do, of an API challenge
/// as the gate stores it (about 100 bytes encoded).
async fn put_take(store: &dyn PendingChallengeStore, kind: RecordKind, user: &str) {
    let key = RecordKey::new(kind, user, uuid::Uuid::new_v4().to_string());
    store.put(&key, record(user), TTL).await.expect("put");
    let taken = store.take(&key).await.expect("take");
    assert!(taken.is_some());
}

/// Two `PING`s: the least two Redis operations can cost.
async fn two_pings(connection: &ConnectionManager) {
    let mut connection = connection.clone();
    for _ in 0..2 {
        let pong: String = redis::cmd("PING")
            .query_async(&mut connection)
            .await
            .expect("PING");
        assert_eq!(pong, "PONG");
    }
}

/// Times each of `count` calls of `operation`, in nanoseconds.
async fn time_each<F: Future<Output = ()>>(
    count: usize,
    mut operation: impl FnMut() -> F,
    samples: &mut Vec<u64>,
) {
    for _ in 0..count {
        let started = Instant::now();
        operation().await;
        samples.push(started.elapsed().as_nanos() as u64);
    }
}

/// `TASKS` tasks doing `PER_TASK` put+takes each on one store: operations per second.
async fn concurrent(store: Arc<dyn PendingChallengeStore>) -> f64 {
    let started = Instant::now();
    let tasks: Vec<_> = (0..TASKS)
        .map(|task| {
            let store = store.clone();
            tokio::spawn(async move {
                let user = format!("user-{task}");
                for _ in 0..PER_TASK {
                    put_take(&*store, RecordKind::Challenge, &user).await;
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("a task");
    }
    (TASKS * PER_TASK) as f64 / started.elapsed().as_secs_f64()
}

fn quantile(samples: &mut [u64], q: f64) -> f64 {
    samples.sort_unstable();
    samples[((samples.len() - 1) as f64 * q).round() as usize] as f64 / 1000.0
}

fn main() {
    if !std::env::args().any(|arg| arg == "--bench") {
        println!("store_redis: run with `cargo bench --bench store_redis`");
        return;
    }
    if !redis_support::redis_installed(&["redis-server"]) {
        return;
    }
    let server = redis_support::RedisServer::start(&[]);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        let memory = MemoryStore::builder().per_user(usize::MAX).build();
        let redis_store = RedisStore::builder(server.url())
            .per_user(usize::MAX)
            .build()
            .await
            .expect("the store connects");
        let pings = redis::Client::open(server.url())
            .expect("a URL")
            .get_connection_manager()
            .await
            .expect("a connection");
        // Warm up: connections, the scripts loaded into Redis, allocator, caches.
        for _ in 0..500 {
            put_take(&memory, RecordKind::Challenge, "warm").await;
            put_take(&redis_store, RecordKind::Challenge, "warm").await;
            put_take(&redis_store, RecordKind::Spent, "warm").await;
            two_pings(&pings).await;
        }

        let rows = [
            "MemoryStore, challenge",
            "RedisStore, challenge (2 scripts)",
            "RedisStore, spent token (the same 2 scripts)",
            "two PINGs on one multiplexed connection",
        ];
        let mut samples: Vec<Vec<u64>> = vec![Vec::new(); rows.len()];
        for round in 0..ROUNDS {
            let user = format!("user-{round}");
            time_each(
                PER_ROUND,
                || put_take(&memory, RecordKind::Challenge, &user),
                &mut samples[0],
            )
            .await;
            time_each(
                PER_ROUND,
                || put_take(&redis_store, RecordKind::Challenge, &user),
                &mut samples[1],
            )
            .await;
            time_each(
                PER_ROUND,
                || put_take(&redis_store, RecordKind::Spent, &user),
                &mut samples[2],
            )
            .await;
            time_each(PER_ROUND, || two_pings(&pings), &mut samples[3]).await;
        }

        println!(
            "put+take, one at a time ({ROUNDS} interleaved rounds of {PER_ROUND}), loopback Redis"
        );
        println!();
        println!("| operation | median µs | p99 µs |");
        println!("|---|---:|---:|");
        for (row, samples) in rows.iter().zip(&mut samples) {
            let median = quantile(samples, 0.5);
            let p99 = quantile(samples, 0.99);
            println!("| {row} | {median:.1} | {p99:.1} |");
        }

        let memory: Arc<dyn PendingChallengeStore> = Arc::new(memory);
        let redis_store: Arc<dyn PendingChallengeStore> = Arc::new(redis_store);
        let mut memory_rates = Vec::new();
        let mut redis_rates = Vec::new();
        for _ in 0..3 {
            memory_rates.push(concurrent(memory.clone()).await);
            redis_rates.push(concurrent(redis_store.clone()).await);
        }
        println!();
        println!(
            "{TASKS} concurrent tasks x {PER_TASK} put+takes of challenges, 3 interleaved runs"
        );
        println!();
        println!("| store | put+takes / s (each run) |");
        println!("|---|---|");
        for (name, rates) in [("MemoryStore", memory_rates), ("RedisStore", redis_rates)] {
            let rates: Vec<String> = rates.iter().map(|rate| format!("{rate:.0}")).collect();
            println!("| {name} | {} |", rates.join(", "));
        }
    });
}
