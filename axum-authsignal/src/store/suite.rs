//! The store conformance suite: checks a [`PendingChallengeStore`] keeps the contract; call
//! it from your store's tests.
//!
//! Implement [`Subject`] for your store (how to open a fresh, empty one, seen from several
//! handles as several instances of an app would share it), then call [`run`], or each
//! check on its own to get one test per behaviour. This crate's own stores, `MemoryStore`
//! and `RedisStore` (on one server and on Redis Cluster), run this very suite; the
//! documentation of [`PendingChallengeStore`] has a complete store over a `HashMap` that
//! passes it.
//!
//! Time is real (a shared store keeps its own clock): expiry is checked by waiting well
//! past a short time to live, and `retry_after` between bounds measured around the calls,
//! so nothing depends on how fast the machine is. The checks panic on the first breach,
//! as tests do. They need a Tokio runtime with its timer enabled (`#[tokio::test]`,
//! `#[tokio::main]`).
//!
//! Only with the feature `store-suite`: enable it in your `[dev-dependencies]`, apps need
//! not compile it.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::Method;

use super::{
    MAX_RECORD_BYTES, PendingChallenge, PendingChallengeStore, RecordKey, RecordKind,
    StashedRequest, StoreError, Verification,
};

/// One store, seen from `instances` handles.
pub type Instances = Vec<Arc<dyn PendingChallengeStore>>;

/// A kind of store under test.
#[allow(async_fn_in_trait)] // used in generics only, never as `dyn`
pub trait Subject {
    /// `instances` handles on one fresh, empty store whose per-user bound is `per_user`.
    async fn open(&self, per_user: usize, instances: usize) -> Instances;

    /// How many keys of each kind [`concurrent_takes_yield_one_record`]'s threads race
    /// on: enough that a take split in two steps is caught. A store whose take is a
    /// network round trip has a wide window and needs few; an in-process store, whose
    /// window is a few instructions, needs many.
    fn racing_keys(&self) -> usize;
}

/// A long time to live: nothing expires during a test.
pub const TTL: Duration = Duration::from_secs(600);

/// How many handles the concurrency tests spread over.
const INSTANCES: usize = 4;

/// A record of `user`'s, as the gate makes it for an API client.
pub fn record(user: &str) -> PendingChallenge {
    PendingChallenge::challenge(user, "withdraw", Method::POST, "/withdraw").with_body(
        Some("application/json".into()),
        None,
        [7; 32],
    )
}

/// The key of `user`'s challenge record for the action `key`.
pub fn challenge(user: &str, key: &str) -> RecordKey {
    RecordKey::new(RecordKind::Challenge, user, key)
}

/// Puts [`record`]`(user)` under `key`, the user being the key's.
pub async fn put(
    store: &dyn PendingChallengeStore,
    key: &RecordKey,
    ttl: Duration,
) -> Result<(), StoreError> {
    store.put(key, record(&key.user_id), ttl).await
}

/// Every kind of record a store keeps.
pub const KINDS: [RecordKind; 4] = [
    RecordKind::Challenge,
    RecordKind::Resume,
    RecordKind::Spent,
    RecordKind::Review,
];

/// User ids that a naive key layout would get wrong: hash-tag braces, separators.
pub const AWKWARD_USERS: [&str; 4] = ["{alice}", "}{", "user:1:challenge", "bøb {x}"];

/// Put once, taken once, on any instance; a replay finds nothing anywhere.
pub async fn a_record_is_taken_once<S: Subject>(subject: &S) {
    let stores = subject.open(10, 2).await;
    let key = challenge("alice", "k1");
    put(&*stores[0], &key, TTL).await.unwrap();
    assert_eq!(stores[1].take(&key).await.unwrap(), Some(record("alice")));
    assert_eq!(stores[1].take(&key).await.unwrap(), None);
    assert_eq!(stores[0].take(&key).await.unwrap(), None);
    // Once taken, the key is free again.
    put(&*stores[0], &key, TTL).await.unwrap();
}

/// A record past its time to live is gone, and its key is free; one within it is there.
pub async fn records_expire<S: Subject>(subject: &S) {
    let stores = subject.open(10, 1).await;
    let store = &*stores[0];
    let short = challenge("alice", "short");
    let long = challenge("alice", "long");
    let spent = RecordKey::new(RecordKind::Spent, "alice", "short");
    put(store, &short, Duration::from_millis(100))
        .await
        .unwrap();
    put(store, &spent, Duration::from_millis(100))
        .await
        .unwrap();
    put(store, &long, TTL).await.unwrap();
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(store.take(&short).await.unwrap(), None);
    assert_eq!(store.take(&spent).await.unwrap(), None);
    put(store, &short, TTL).await.unwrap();
    put(store, &spent, TTL).await.unwrap();
    assert!(store.take(&short).await.unwrap().is_some());
    assert!(store.take(&long).await.unwrap().is_some());
}

/// A record is found under its user and kind only.
pub async fn a_record_is_found_only_under_its_user_and_kind<S: Subject>(subject: &S) {
    let stores = subject.open(10, 1).await;
    let store = &*stores[0];
    for user in AWKWARD_USERS.iter().chain(&["alice"]) {
        put(store, &challenge(user, "k"), TTL).await.unwrap();
    }
    assert_eq!(store.take(&challenge("mallory", "k")).await.unwrap(), None);
    assert_eq!(store.take(&challenge("{alice", "k")).await.unwrap(), None);
    for kind in [RecordKind::Resume, RecordKind::Spent, RecordKind::Review] {
        let other_kind = RecordKey::new(kind, "alice", "k");
        assert_eq!(store.take(&other_kind).await.unwrap(), None);
    }
    for user in AWKWARD_USERS.iter().chain(&["alice"]) {
        let taken = store.take(&challenge(user, "k")).await.unwrap();
        assert_eq!(taken, Some(record(user)), "{user:?}");
    }
}

/// A user over the bound is refused with the time until their first pending challenge
/// expires (the soonest, not the oldest put); nobody else is affected; answering a
/// challenge or its expiry frees a place.
pub async fn the_per_user_bound_refuses_that_user_only<S: Subject>(subject: &S) {
    let stores = subject.open(2, 2).await;
    for user in ["mallory", AWKWARD_USERS[0], AWKWARD_USERS[1]] {
        let sooner = Duration::from_secs(300);
        let started = Instant::now();
        put(&*stores[0], &challenge(user, "m0"), TTL).await.unwrap();
        put(&*stores[1], &challenge(user, "m1"), sooner)
            .await
            .unwrap();
        let refused = put(&*stores[0], &challenge(user, "m2"), TTL).await;
        let elapsed = started.elapsed();
        let Err(StoreError::UserLimit { retry_after }) = refused else {
            panic!("{user:?}: expected UserLimit, got {refused:?}");
        };
        // Millisecond rounding on each side of the server's clock.
        let slack = Duration::from_millis(2);
        assert!(
            retry_after <= sooner + slack && retry_after + elapsed + slack >= sooner,
            "{user:?}: retry_after {retry_after:?}, elapsed {elapsed:?}"
        );
        // Refusing wrote nothing.
        assert_eq!(stores[1].take(&challenge(user, "m2")).await.unwrap(), None);
        // Answering one frees a place.
        assert!(
            stores[1]
                .take(&challenge(user, "m1"))
                .await
                .unwrap()
                .is_some()
        );
        put(&*stores[1], &challenge(user, "m2"), TTL).await.unwrap();
        assert!(matches!(
            put(&*stores[0], &challenge(user, "m3"), TTL).await,
            Err(StoreError::UserLimit { .. })
        ));
    }
    // Everyone else is unaffected.
    for user in ["alice", AWKWARD_USERS[2], AWKWARD_USERS[3]] {
        put(&*stores[0], &challenge(user, "a0"), TTL).await.unwrap();
        put(&*stores[1], &challenge(user, "a1"), TTL).await.unwrap();
    }
    // Expiry frees a place too, with no take.
    let carol = "carol";
    put(
        &*stores[0],
        &challenge(carol, "c0"),
        Duration::from_millis(100),
    )
    .await
    .unwrap();
    put(&*stores[0], &challenge(carol, "c1"), TTL)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(600)).await;
    put(&*stores[1], &challenge(carol, "c2"), TTL)
        .await
        .unwrap();
}

/// Every kind of record counts against its user's bound, mixed as the gate mixes them
/// (a challenge, a browser's resume, a spent token, a held review): at the bound, a put of any kind is
/// refused with `UserLimit` and writes nothing; another user is not affected; a take of
/// any kind frees a place, for a record of any kind.
pub async fn the_per_user_bound_counts_every_kind<S: Subject>(subject: &S) {
    let stores = subject.open(KINDS.len(), 2).await;
    for (n, user) in ["mallory", AWKWARD_USERS[0], AWKWARD_USERS[3]]
        .iter()
        .enumerate()
    {
        // One record of each kind, on both instances; which one is taken later
        // turns with the user, so that every kind is seen freeing a place.
        for (at, kind) in KINDS.iter().enumerate() {
            let key = RecordKey::new(*kind, *user, format!("held{at}"));
            put(&*stores[at % 2], &key, TTL).await.unwrap();
        }
        for kind in KINDS {
            let key = RecordKey::new(kind, *user, "one-more");
            let refused = put(&*stores[1], &key, TTL).await;
            assert!(
                matches!(refused, Err(StoreError::UserLimit { .. })),
                "{user:?}, {kind:?}: {refused:?}"
            );
            // Refusing wrote nothing.
            assert_eq!(
                stores[0].take(&key).await.unwrap(),
                None,
                "{user:?} {kind:?}"
            );
        }
        let freed = RecordKey::new(KINDS[n], *user, format!("held{n}"));
        assert_eq!(stores[1].take(&freed).await.unwrap(), Some(record(user)));
        let next = RecordKey::new(KINDS[(n + 1) % KINDS.len()], *user, "one-more");
        put(&*stores[0], &next, TTL).await.unwrap();
        assert!(matches!(
            put(&*stores[1], &challenge(user, "two-more"), TTL).await,
            Err(StoreError::UserLimit { .. })
        ));
    }
    // Everyone else is unaffected, whatever the kind.
    for kind in KINDS {
        for user in ["alice", AWKWARD_USERS[1]] {
            put(&*stores[0], &RecordKey::new(kind, user, "a"), TTL)
                .await
                .unwrap();
        }
    }
}

/// A held key cannot be put again (the first record stays), even by a user at the bound:
/// a replay is a replay before it is one challenge too many.
pub async fn a_key_cannot_be_put_twice<S: Subject>(subject: &S) {
    let stores = subject.open(1, 2).await;
    for kind in KINDS {
        let key = RecordKey::new(kind, "alice", "k");
        put(&*stores[0], &key, TTL).await.unwrap();
        let other = PendingChallenge::challenge("alice", "transfer", Method::POST, "/withdraw");
        assert_eq!(
            stores[1].put(&key, other, TTL).await,
            Err(StoreError::Duplicate),
            "{kind:?}"
        );
        assert_eq!(stores[0].take(&key).await.unwrap(), Some(record("alice")));
    }
}

/// Threads that take at once in [`concurrent_takes_yield_one_record`], each with a
/// runtime of its own, as the worker threads of several instances would: more than the
/// machine has cores, so that a thread is also preempted in the middle of a take.
const RACERS: usize = 8;

/// For every kind of record: eight threads spread over several instances, released
/// together, take the same [`Subject::racing_keys`] keys in the same order, so that they
/// meet on each key: every record is taken exactly once. A take that read and deleted in
/// two steps (a `GET` then a `DEL`; a look-up then a removal under two locks) would let
/// several threads through on some key.
pub async fn concurrent_takes_yield_one_record<S: Subject>(subject: &S) {
    let stores = subject.open(1, INSTANCES).await;
    for kind in KINDS {
        // A user per key: what races is the take, not a user's bound.
        let keys: Vec<RecordKey> = (0..subject.racing_keys())
            .map(|n| RecordKey::new(kind, format!("racer-{n}"), "k"))
            .collect();
        for (n, key) in keys.iter().enumerate() {
            put(&*stores[n % INSTANCES], key, TTL).await.unwrap();
        }
        let (racing_stores, keys) = (stores.clone(), Arc::new(keys));
        let racing_keys = keys.clone();
        let found = tokio::task::spawn_blocking(move || race_takes(&racing_stores, &racing_keys))
            .await
            .expect("the racers finish");
        let wrong: Vec<(&str, usize)> = keys
            .iter()
            .zip(&found)
            .filter(|(_, found)| **found != 1)
            .map(|(key, found)| (key.user_id.as_str(), *found))
            .take(10)
            .collect();
        assert!(
            wrong.is_empty(),
            "{kind:?}: records taken other than once (user, times): {wrong:?}"
        );
    }
}

/// Runs the racers of [`concurrent_takes_yield_one_record`]: how many times each key's
/// record was taken.
fn race_takes(stores: &Instances, keys: &[RecordKey]) -> Vec<usize> {
    let found: Vec<AtomicUsize> = keys.iter().map(|_| AtomicUsize::new(0)).collect();
    let start = std::sync::Barrier::new(RACERS);
    std::thread::scope(|scope| {
        for racer in 0..RACERS {
            let store = &stores[racer % INSTANCES];
            let (found, start) = (&found, &start);
            scope.spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("a runtime for the racer");
                start.wait();
                runtime.block_on(async {
                    for (key, found) in keys.iter().zip(found) {
                        if store.take(key).await.unwrap().is_some() {
                            found.fetch_add(1, Ordering::SeqCst);
                        }
                    }
                });
            });
        }
    });
    found.into_iter().map(AtomicUsize::into_inner).collect()
}

/// 50 concurrent puts of one user over several instances, against a bound of 5: exactly
/// 5 are kept, every other one is refused with `UserLimit`, and 5 records are there.
pub async fn concurrent_puts_never_overshoot_the_user_bound<S: Subject>(subject: &S) {
    let stores = subject.open(5, INSTANCES).await;
    let barrier = Arc::new(tokio::sync::Barrier::new(50));
    let puts: Vec<_> = (0..50)
        .map(|n| {
            let (store, barrier) = (stores[n % INSTANCES].clone(), barrier.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                put(&*store, &challenge("mallory", &format!("m{n}")), TTL).await
            })
        })
        .collect();
    let mut kept = 0;
    for put in puts {
        match put.await.unwrap() {
            Ok(()) => kept += 1,
            Err(StoreError::UserLimit { .. }) => {}
            Err(other) => panic!("a put failed otherwise: {other:?}"),
        }
    }
    assert_eq!(kept, 5);
    let mut found = 0;
    for n in 0..50 {
        let key = challenge("mallory", &format!("m{n}"));
        found += usize::from(stores[n % INSTANCES].take(&key).await.unwrap().is_some());
    }
    assert_eq!(found, 5);
}

/// Every field comes back as it went in, a binary stashed body included; a record past
/// [`MAX_RECORD_BYTES`] is refused as too large.
pub async fn records_come_back_whole<S: Subject>(subject: &S) {
    let stores = subject.open(10, 2).await;
    let body: Vec<u8> = (0..=255u8).cycle().take(200 * 1024).collect();
    let full = PendingChallenge::challenge(
        "ünï {c}:ode",
        "withdraw",
        Method::PATCH,
        "/accounts/7/withdraw?currency=EUR&x=%2F",
    )
    .with_body(
        Some("application/x-www-form-urlencoded".into()),
        Some("gzip".into()),
        [0xA5; 32],
    )
    .with_stash(StashedRequest::new(
        body,
        Some("application/x-www-form-urlencoded; charset=utf-8".into()),
    ))
    .into_resume(Verification::new("k").with_verification_method("AUTHENTICATOR_APP"));
    let empty = PendingChallenge::challenge("", "", Method::GET, "")
        .with_stash(StashedRequest::new(Bytes::new(), None));
    for (n, record) in [full, empty].into_iter().enumerate() {
        let key = RecordKey::new(RecordKind::Resume, record.user_id(), format!("r{n}"));
        stores[0].put(&key, record.clone(), TTL).await.unwrap();
        assert_eq!(stores[1].take(&key).await.unwrap(), Some(record));
    }
    let huge =
        record("alice").with_stash(StashedRequest::new(vec![b'a'; MAX_RECORD_BYTES + 1], None));
    let key = challenge("alice", "huge");
    assert_eq!(
        stores[0].put(&key, huge, TTL).await,
        Err(StoreError::TooLarge)
    );
    assert_eq!(stores[1].take(&key).await.unwrap(), None);
}

/// Every check of the suite, one after the other, against `subject`.
pub async fn run<S: Subject>(subject: &S) {
    a_record_is_taken_once(subject).await;
    records_expire(subject).await;
    a_record_is_found_only_under_its_user_and_kind(subject).await;
    the_per_user_bound_refuses_that_user_only(subject).await;
    the_per_user_bound_counts_every_kind(subject).await;
    a_key_cannot_be_put_twice(subject).await;
    concurrent_takes_yield_one_record(subject).await;
    concurrent_puts_never_overshoot_the_user_bound(subject).await;
    records_come_back_whole(subject).await;
}
