//! `RedisStore` when Redis fails: stopped mid-run, restarted, paused, full, or never there.
//! Every operation must end within the store's timeout with an error (the gate answers
//! 503), never panic nor hang, and the same store must work again once Redis does.
//!
//! Each test starts a `redis-server` of its own (`tests/redis_support/`), since it breaks
//! it. The bounds checked are loose multiples of the store's timeout: what they catch is
//! an operation waiting for Redis to come back, not a slow machine.

use std::future::Future;
use std::time::{Duration, Instant};

use crate::redis_support::{RedisServer, redis_installed};
use axum_authsignal::store::{
    PendingChallenge, PendingChallengeStore, RecordKey, RecordKind, RedisStore, StashedRequest,
    StoreError,
};
use bytes::Bytes;
use http::Method;

/// The store's timeout in these tests.
const TIMEOUT: Duration = Duration::from_millis(300);
/// Past this an operation is taken to hang: far beyond [`TIMEOUT`], far below a pause.
const HANG: Duration = Duration::from_secs(5);
const TTL: Duration = Duration::from_secs(600);

fn record(user: &str, n: usize) -> PendingChallenge {
    PendingChallenge::challenge(
        user,
        format!("action-{n}"),
        Method::POST,
        format!("/withdraw/{n}"),
    )
    .with_body(None, None, [7; 32])
}

fn key(kind: RecordKind, n: usize) -> RecordKey {
    RecordKey::new(kind, "alice", format!("k{n}"))
}

async fn store_on(server: &RedisServer) -> RedisStore {
    RedisStore::builder(server.url())
        .timeout(TIMEOUT)
        .build()
        .await
        .expect("the store connects")
}

/// `operation`'s result, or a failure naming `what` if it has not ended within [`HANG`].
async fn within_bound<T>(what: &str, operation: impl Future<Output = T>) -> T {
    tokio::time::timeout(HANG, operation)
        .await
        .unwrap_or_else(|_| panic!("{what} hung past {HANG:?} with a {TIMEOUT:?} timeout"))
}

/// One put and one take of each kind; each must fail with `Backend` within the bound.
async fn every_operation_fails_with_backend(store: &RedisStore, n: usize) {
    for kind in [RecordKind::Challenge, RecordKind::Spent] {
        let key = key(kind, n);
        let put = within_bound("put", store.put(&key, record("alice", n), TTL)).await;
        assert!(
            matches!(put, Err(StoreError::Backend(_))),
            "{kind:?}: {put:?}"
        );
        let take = within_bound("take", store.take(&key)).await;
        assert!(
            matches!(take, Err(StoreError::Backend(_))),
            "{kind:?}: {take:?}"
        );
    }
}

/// A put then a take of a record of its own, checked field by field: after a fault,
/// no answer may be matched to the wrong request.
async fn round_trip(store: &RedisStore, n: usize) -> Result<(), StoreError> {
    for kind in [RecordKind::Challenge, RecordKind::Resume] {
        let key = key(kind, n);
        store.put(&key, record("alice", n), TTL).await?;
        assert_eq!(store.take(&key).await?, Some(record("alice", n)));
    }
    Ok(())
}

/// Redis killed mid-run: every operation fails with `Backend` within the bound, nothing
/// panics; restarted (empty), the same store works again by itself, within seconds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_redis_fails_operations_and_a_restarted_one_serves_the_same_store() {
    if !redis_installed(&["redis-server"]) {
        return;
    }
    let mut server = RedisServer::start(&[]);
    let store = store_on(&server).await;
    round_trip(&store, 0).await.unwrap();
    let pending = key(RecordKind::Challenge, 1);
    store.put(&pending, record("alice", 1), TTL).await.unwrap();

    server.stop();
    // Requests keep coming during the outage, as they would to an app.
    let outage = Instant::now();
    let mut n = 100;
    while outage.elapsed() < Duration::from_millis(1500) {
        every_operation_fails_with_backend(&store, n).await;
        n += 1;
    }

    server.restart();
    let restarted = Instant::now();
    let mut failures = 0;
    loop {
        match within_bound("a round trip", round_trip(&store, n)).await {
            Ok(()) => break,
            Err(StoreError::Backend(_)) => failures += 1,
            Err(other) => panic!("after the restart: {other:?}"),
        }
        assert!(
            restarted.elapsed() < Duration::from_secs(10),
            "the store did not recover within 10 s of Redis' restart ({failures} failures)"
        );
        n += 1;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // From then on, everything works.
    for n in n + 1..n + 50 {
        round_trip(&store, n).await.unwrap();
    }
    // Nothing was persisted: the challenge pending at the crash is gone (fail closed).
    assert_eq!(store.take(&pending).await.unwrap(), None);
    let _ = std::io::Write::write_all(
        &mut std::io::stderr(),
        format!(
            "store recovered {:?} after restart, {failures} failed round trips\n",
            restarted.elapsed()
        )
        .as_bytes(),
    );
}

/// Redis paused (`CLIENT PAUSE`) far longer than the timeout: operations fail with
/// `Backend` within the bound rather than waiting for the pause to end; unpaused, the
/// same store works, and every answer goes to the request it belongs to.
///
/// `WRITE` is the pause of a failover, and holds every operation of the store (each one
/// writes); `ALL` would hold the test's own `CLIENT UNPAUSE` too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_redis_is_bounded_by_the_store_timeout() {
    if !redis_installed(&["redis-server"]) {
        return;
    }
    let server = RedisServer::start(&[]);
    let store = store_on(&server).await;
    round_trip(&store, 0).await.unwrap();

    let mut admin = server.admin();
    let _: () = redis::cmd("CLIENT")
        .arg("PAUSE")
        .arg(60_000)
        .arg("WRITE")
        .query(&mut admin)
        .unwrap();
    for n in 1..4 {
        every_operation_fails_with_backend(&store, n).await;
    }
    let _: () = redis::cmd("CLIENT")
        .arg("UNPAUSE")
        .query(&mut admin)
        .unwrap();

    // The commands that timed out are carried out now; their answers must not be taken
    // for those of the requests that follow.
    for n in 10..60 {
        within_bound("a round trip", round_trip(&store, n))
            .await
            .unwrap();
    }
}

/// With nothing listening, building a store fails with `Backend` within the bound.
#[tokio::test]
async fn a_store_cannot_be_built_without_redis() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let built = within_bound(
        "build",
        RedisStore::builder(format!("redis://127.0.0.1:{port}/"))
            .timeout(TIMEOUT)
            .build(),
    )
    .await;
    assert!(matches!(built, Err(StoreError::Backend(_))), "{built:?}");
}

/// Past `maxmemory` (with `noeviction`) puts fail with `Full`, not a backend error;
/// takes still work, and free room for puts again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_past_maxmemory_refuses_puts_as_full() {
    if !redis_installed(&["redis-server"]) {
        return;
    }
    let server = RedisServer::start(&["--maxmemory", "4mb", "--maxmemory-policy", "noeviction"]);
    let store = RedisStore::builder(server.url())
        .timeout(TIMEOUT)
        .per_user(1)
        .build()
        .await
        .unwrap();
    let big = |user: &str| {
        record(user, 0).with_stash(StashedRequest::new(
            Bytes::from(vec![b'a'; 256 * 1024]),
            None,
        ))
    };
    let mut kept = Vec::new();
    let refused = loop {
        let key = RecordKey::new(RecordKind::Challenge, format!("user-{}", kept.len()), "k");
        match store.put(&key, big(&key.user_id), TTL).await {
            Ok(()) => kept.push(key),
            Err(err) => break err,
        }
        assert!(kept.len() < 100, "4 MB of Redis took 25 MB of records");
    };
    assert_eq!(refused, StoreError::Full);
    assert!(!kept.is_empty());
    for kind in [RecordKind::Resume, RecordKind::Spent] {
        let key = RecordKey::new(kind, "late", "k");
        assert_eq!(
            store.put(&key, big("late"), TTL).await,
            Err(StoreError::Full)
        );
    }
    // Taking frees memory; then a put fits again.
    for key in &kept {
        assert!(store.take(key).await.unwrap().is_some());
    }
    let key = RecordKey::new(RecordKind::Challenge, "after", "k");
    store.put(&key, big("after"), TTL).await.unwrap();
}
