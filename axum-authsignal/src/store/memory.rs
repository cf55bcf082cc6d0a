//! [`MemoryStore`]: the default store, for an app served by one instance.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

use super::{
    MAX_RECORD_BYTES, PendingChallenge, PendingChallengeStore, RecordKey, RecordKind, StoreError,
    StoreFuture,
};

/// How many records of every kind [`MemoryStore::default`] keeps at most: 250 challenges
/// a second sustained over a token's ten-minute lifetime. At about 0.7 KB per API
/// challenge (`benches/RESULTS.md`) a full store holds about 100 MB, besides the bytes
/// [`DEFAULT_STASH_BYTES`] bounds.
pub const DEFAULT_CAPACITY: usize = 150_000;
/// How many records one user may hold at once, by default, of every kind: pending
/// challenges, completed browser challenges waiting to be resumed, tokens the standalone
/// validator accepted, requests held for a review. An honest user has one or two; more is someone asking for
/// challenges they do not answer, or completing them and never coming back.
pub const DEFAULT_PER_USER: usize = 10;
/// How many bytes the records may hold in all (stashed browser bodies, the verifications
/// resume records keep, paths, ids), by default: 64 MiB.
pub const DEFAULT_STASH_BYTES: usize = 64 * 1024 * 1024;

/// How often a full store looks for expired records to drop. Sweeping costs a pass over
/// every record; without a pause, each refused put on a full store would pay it again.
const SWEEP_INTERVAL: Duration = Duration::from_secs(1);

/// The default store: in memory, with a time to live, a bound per user and bounds on its
/// size. It serves one instance; several instances need a shared store.
///
/// | bound | default | over it |
/// |---|---|---|
/// | [`per_user`](MemoryStoreBuilder::per_user) records of one user | [`DEFAULT_PER_USER`] (10) | [`StoreError::UserLimit`]: 429 for that user only |
/// | [`capacity`](MemoryStoreBuilder::capacity) records in all | [`DEFAULT_CAPACITY`] (150 000) | [`StoreError::Full`]: 503 |
/// | [`max_bytes`](MemoryStoreBuilder::max_bytes) held by records | [`DEFAULT_STASH_BYTES`] (64 MiB) | [`StoreError::Full`]: 503 |
///
/// Every record counts against every bound, whatever its [`RecordKind`]: a pending
/// challenge, a completed browser challenge waiting to be resumed (which holds the stashed
/// body, up to the route's body limit, and what it keeps of Authsignal's validation), a
/// spent token. So no user's records of any kind can take the room other users need.
///
/// A full store refuses new records rather than dropping old ones: dropping would fail
/// users who are mid-challenge, refusing fails only the newcomer. A completed browser
/// challenge's resume record replaces the challenge record taken just before it, so it
/// finds the room that take freed; should another request have filled it in between, the
/// resume is refused (429 when it was the same user's, 503 when the store is full), nothing
/// runs, and the user is challenged again: it fails closed.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// use std::time::Duration;
/// use axum_authsignal::store::{MemoryStore, PendingChallengeStore, RecordKey, RecordKind};
/// # use axum_authsignal::store::PendingChallenge;
/// # let record = PendingChallenge::challenge("alice", "a", http::Method::POST, "/");
/// let store = MemoryStore::builder().per_user(5).build();
/// let key = RecordKey::new(RecordKind::Challenge, "alice", "key-1");
/// store.put(&key, record, Duration::from_secs(600)).await.unwrap();
/// assert!(store.take(&key).await.unwrap().is_some());
/// assert!(store.take(&key).await.unwrap().is_none()); // good once
/// # });
/// ```
#[derive(Debug)]
pub struct MemoryStore {
    limits: Limits,
    state: Mutex<State>,
}

#[derive(Debug, Clone, Copy)]
struct Limits {
    capacity: usize,
    per_user: usize,
    max_bytes: usize,
}

/// Builds a [`MemoryStore`] with bounds other than the defaults.
#[derive(Debug, Clone, Copy)]
#[must_use]
pub struct MemoryStoreBuilder {
    limits: Limits,
}

impl MemoryStoreBuilder {
    /// At most this many records in all, of every kind (at least 1).
    pub fn capacity(mut self, records: usize) -> Self {
        self.limits.capacity = records.max(1);
        self
    }

    /// At most this many records per user, of every kind (at least 1).
    pub fn per_user(mut self, records: usize) -> Self {
        self.limits.per_user = records.max(1);
        self
    }

    /// At most this many bytes held by all records together.
    pub fn max_bytes(mut self, bytes: usize) -> Self {
        self.limits.max_bytes = bytes;
        self
    }

    /// The store.
    pub fn build(self) -> MemoryStore {
        MemoryStore {
            limits: self.limits,
            state: Mutex::new(State::default()),
        }
    }
}

#[derive(Debug, Default)]
struct State {
    records: HashMap<RecordKey, Entry>,
    /// Each user's records of every kind (kind, idempotency key, expiry), for the
    /// per-user bound.
    by_user: HashMap<String, Vec<UserRecord>>,
    /// Records of [`RecordKind::Challenge`], expired ones included until swept: the
    /// gauge of pending challenges (no bound reads it).
    challenges: usize,
    /// [`PendingChallenge::held_bytes`] summed over every record.
    held_bytes: usize,
    /// When expired records were last swept out.
    swept_at: Option<Instant>,
}

/// One entry of a user's index: which of their records, and when it expires.
#[derive(Debug)]
struct UserRecord {
    kind: RecordKind,
    idempotency_key: String,
    expires: Instant,
}

#[derive(Debug)]
struct Entry {
    record: PendingChallenge,
    expires: Instant,
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::builder().build()
    }
}

impl MemoryStore {
    /// A builder starting from the defaults in the table above.
    pub fn builder() -> MemoryStoreBuilder {
        MemoryStoreBuilder {
            limits: Limits {
                capacity: DEFAULT_CAPACITY,
                per_user: DEFAULT_PER_USER,
                max_bytes: DEFAULT_STASH_BYTES,
            },
        }
    }

    /// How many records are held now, of every kind, expired ones included until they are
    /// swept.
    pub fn len(&self) -> usize {
        self.lock().records.len()
    }

    /// Whether no record is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The bytes the records hold, as the [`max_bytes`](MemoryStoreBuilder::max_bytes)
    /// bound counts them.
    pub fn held_bytes(&self) -> usize {
        self.lock().held_bytes
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // Every operation below restores the counters before it can panic (none of its
        // steps can), so a poisoned lock still guards consistent state.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn put_now(
        &self,
        key: &RecordKey,
        record: PendingChallenge,
        ttl: Duration,
    ) -> Result<(), StoreError> {
        let now = Instant::now();
        let bytes = record.held_bytes();
        if bytes > MAX_RECORD_BYTES {
            return Err(StoreError::TooLarge);
        }
        let mut state = self.lock();
        match state.records.get(key) {
            Some(entry) if entry.expires > now => return Err(StoreError::Duplicate),
            Some(_) => {
                state.remove(key);
            }
            None => {}
        }
        state.check_user(&key.user_id, self.limits.per_user, now)?;
        if !state.has_room(self.limits, bytes) && state.sweep_due(now) {
            state.sweep(now);
        }
        if !state.has_room(self.limits, bytes) {
            return Err(StoreError::Full);
        }
        state.insert(key.clone(), record, now + ttl);
        Ok(())
    }
}

impl State {
    /// Drops the user's expired records, then refuses if the rest fill their bound.
    fn check_user(&mut self, user_id: &str, bound: usize, now: Instant) -> Result<(), StoreError> {
        let Some(held) = self.by_user.get(user_id) else {
            return Ok(());
        };
        let expired: Vec<RecordKey> = held
            .iter()
            .filter(|held| held.expires <= now)
            .map(|held| RecordKey::new(held.kind, user_id, held.idempotency_key.as_str()))
            .collect();
        for key in expired {
            self.remove(&key);
        }
        let Some(held) = self.by_user.get(user_id) else {
            return Ok(());
        };
        if held.len() < bound {
            return Ok(());
        }
        let oldest = held.iter().map(|held| held.expires).min();
        let retry_after = oldest.map_or(Duration::ZERO, |expires| expires - now);
        Err(StoreError::UserLimit { retry_after })
    }

    fn has_room(&self, limits: Limits, bytes: usize) -> bool {
        self.records.len() < limits.capacity && self.held_bytes + bytes <= limits.max_bytes
    }

    fn sweep_due(&self, now: Instant) -> bool {
        self.swept_at
            .is_none_or(|swept| now.duration_since(swept) >= SWEEP_INTERVAL)
    }

    fn sweep(&mut self, now: Instant) {
        let expired: Vec<RecordKey> = self
            .records
            .iter()
            .filter(|(_, entry)| entry.expires <= now)
            .map(|(key, _)| key.clone())
            .collect();
        for key in expired {
            self.remove(&key);
        }
        self.swept_at = Some(now);
    }

    fn insert(&mut self, key: RecordKey, record: PendingChallenge, expires: Instant) {
        self.held_bytes += record.held_bytes();
        if key.kind == RecordKind::Challenge {
            self.challenges += 1;
        }
        // Most users hold one record: room for exactly one, not Vec's four.
        self.by_user
            .entry(key.user_id.clone())
            .or_insert_with(|| Vec::with_capacity(1))
            .push(UserRecord {
                kind: key.kind,
                idempotency_key: key.idempotency_key.clone(),
                expires,
            });
        self.records.insert(key, Entry { record, expires });
    }

    /// Removes a record and its share of every counter.
    fn remove(&mut self, key: &RecordKey) -> Option<Entry> {
        let entry = self.records.remove(key)?;
        self.held_bytes -= entry.record.held_bytes();
        if key.kind == RecordKind::Challenge {
            self.challenges -= 1;
        }
        if let Some(held) = self.by_user.get_mut(&key.user_id) {
            held.retain(|held| {
                held.kind != key.kind || held.idempotency_key != key.idempotency_key
            });
            if held.is_empty() {
                self.by_user.remove(&key.user_id);
            }
        }
        Some(entry)
    }
}

impl PendingChallengeStore for MemoryStore {
    fn put<'a>(
        &'a self,
        key: &'a RecordKey,
        record: PendingChallenge,
        ttl: Duration,
    ) -> StoreFuture<'a, ()> {
        Box::pin(std::future::ready(self.put_now(key, record, ttl)))
    }

    fn take<'a>(&'a self, key: &'a RecordKey) -> StoreFuture<'a, Option<PendingChallenge>> {
        let taken = self
            .lock()
            .remove(key)
            .filter(|entry| entry.expires > Instant::now())
            .map(|entry| entry.record);
        Box::pin(std::future::ready(Ok(taken)))
    }

    fn pending_challenges(&self) -> Option<u64> {
        Some(self.lock().challenges as u64)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use bytes::Bytes;
    use http::Method;

    use super::*;
    use crate::store::{StashedRequest, Verification};

    fn record(user: &str, body: usize) -> PendingChallenge {
        let record = PendingChallenge::challenge(user, "withdraw", Method::POST, "/withdraw")
            .with_body(None, None, [7; 32]);
        if body > 0 {
            record.with_stash(StashedRequest::new(vec![b'a'; body], None))
        } else {
            record
        }
    }

    fn challenge(user: &str, key: &str) -> RecordKey {
        RecordKey::new(RecordKind::Challenge, user, key)
    }

    const TTL: Duration = Duration::from_secs(600);

    async fn put(store: &MemoryStore, key: &RecordKey, ttl: Duration) -> Result<(), StoreError> {
        store.put(key, record(&key.user_id, 0), ttl).await
    }

    #[tokio::test]
    async fn take_is_once() {
        let store = MemoryStore::default();
        let key = challenge("u", "k");
        put(&store, &key, TTL).await.unwrap();
        assert_eq!(store.take(&key).await.unwrap(), Some(record("u", 0)));
        assert_eq!(store.take(&key).await.unwrap(), None);
        assert_eq!(store.pending_challenges(), Some(0));
    }

    #[tokio::test]
    async fn a_record_is_found_only_under_its_user_and_kind() {
        let store = MemoryStore::default();
        put(&store, &challenge("alice", "k"), TTL).await.unwrap();
        assert_eq!(store.take(&challenge("mallory", "k")).await.unwrap(), None);
        let resume = RecordKey::new(RecordKind::Resume, "alice", "k");
        assert_eq!(store.take(&resume).await.unwrap(), None);
        assert!(
            store
                .take(&challenge("alice", "k"))
                .await
                .unwrap()
                .is_some()
        );
    }

    #[tokio::test(start_paused = true)]
    async fn records_expire() {
        let store = MemoryStore::default();
        let key = challenge("u", "k");
        put(&store, &key, TTL).await.unwrap();
        tokio::time::advance(TTL + Duration::from_secs(1)).await;
        assert_eq!(store.take(&key).await.unwrap(), None);
    }

    #[tokio::test(start_paused = true)]
    async fn a_full_store_refuses_until_something_expires() {
        let store = MemoryStore::builder().capacity(2).build();
        put(&store, &challenge("u", "a"), TTL).await.unwrap();
        put(&store, &challenge("v", "b"), Duration::from_secs(1))
            .await
            .unwrap();
        assert_eq!(
            put(&store, &challenge("w", "c"), TTL).await,
            Err(StoreError::Full)
        );
        tokio::time::advance(Duration::from_secs(2)).await;
        put(&store, &challenge("w", "c"), TTL).await.unwrap();
        assert_eq!(store.len(), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn a_full_store_sweeps_at_most_once_a_second() {
        let store = MemoryStore::builder().capacity(1).build();
        let second = Duration::from_secs(1);
        put(&store, &challenge("u", "a"), second).await.unwrap();
        tokio::time::advance(second / 2).await;
        // Full, nothing expired: swept, refused.
        let b = challenge("v", "b");
        assert_eq!(put(&store, &b, TTL).await, Err(StoreError::Full));
        tokio::time::advance(second * 6 / 10).await;
        // "a" has expired, but the last sweep was 0.6 s ago: refused without a sweep.
        assert_eq!(put(&store, &b, TTL).await, Err(StoreError::Full));
        tokio::time::advance(second / 2).await;
        put(&store, &b, TTL).await.unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn one_user_over_their_bound_is_refused_and_nobody_else() {
        let store = MemoryStore::builder().per_user(3).capacity(10).build();
        for n in 0..3 {
            put(&store, &challenge("mallory", &format!("m{n}")), TTL)
                .await
                .unwrap();
            tokio::time::advance(Duration::from_secs(10)).await;
        }
        let refused = put(&store, &challenge("mallory", "m3"), TTL).await;
        // The oldest was put 30 s ago: it expires in 570 s.
        assert_eq!(
            refused,
            Err(StoreError::UserLimit {
                retry_after: TTL - Duration::from_secs(30)
            })
        );
        put(&store, &challenge("alice", "a0"), TTL).await.unwrap();
        // Answering one frees a place.
        store.take(&challenge("mallory", "m1")).await.unwrap();
        put(&store, &challenge("mallory", "m3"), TTL).await.unwrap();
        // So does expiry, without a sweep.
        tokio::time::advance(TTL).await;
        put(&store, &challenge("mallory", "m4"), TTL).await.unwrap();
    }

    const KINDS: [RecordKind; 4] = [
        RecordKind::Challenge,
        RecordKind::Resume,
        RecordKind::Spent,
        RecordKind::Review,
    ];

    /// One user's records of every kind count against their bound; another user is not
    /// affected, and a take of any kind frees a place.
    #[tokio::test]
    async fn every_kind_counts_against_the_user_bound() {
        for kind in KINDS {
            let store = MemoryStore::builder().per_user(3).build();
            for n in 0..3 {
                let key = RecordKey::new(kind, "mallory", format!("m{n}"));
                put(&store, &key, TTL).await.unwrap();
            }
            for other in KINDS {
                let key = RecordKey::new(other, "mallory", "more");
                let refused = put(&store, &key, TTL).await;
                assert!(
                    matches!(refused, Err(StoreError::UserLimit { .. })),
                    "{kind:?} then {other:?}: {refused:?}"
                );
                // Another user is not affected (one user per kind, each within the bound).
                let user = format!("alice-{}", other.as_str());
                put(&store, &RecordKey::new(other, user, "a"), TTL)
                    .await
                    .unwrap();
            }
            let first = RecordKey::new(kind, "mallory", "m0");
            assert!(store.take(&first).await.unwrap().is_some());
            put(
                &store,
                &RecordKey::new(RecordKind::Resume, "mallory", "more"),
                TTL,
            )
            .await
            .unwrap();
            assert_eq!(
                store.pending_challenges(),
                Some(if kind == RecordKind::Challenge { 3 } else { 1 }),
                "{kind:?}: the gauge counts pending challenges only"
            );
        }
    }

    /// Every kind counts against the store's capacity and bytes: once they are full, no
    /// record of any kind gets in, and a take makes room for any kind.
    #[tokio::test]
    async fn every_kind_counts_against_the_store_bounds() {
        for kind in KINDS {
            let store = MemoryStore::builder().capacity(2).build();
            put(&store, &RecordKey::new(kind, "alice", "a"), TTL)
                .await
                .unwrap();
            put(&store, &RecordKey::new(kind, "bob", "b"), TTL)
                .await
                .unwrap();
            for other in KINDS {
                let key = RecordKey::new(other, "carol", "c");
                assert_eq!(
                    put(&store, &key, TTL).await,
                    Err(StoreError::Full),
                    "{kind:?}"
                );
            }
            store.take(&RecordKey::new(kind, "bob", "b")).await.unwrap();
            put(
                &store,
                &RecordKey::new(RecordKind::Resume, "carol", "c"),
                TTL,
            )
            .await
            .unwrap();

            let store = MemoryStore::builder().max_bytes(3000).build();
            let big = RecordKey::new(kind, "alice", "big");
            store.put(&big, record("alice", 2000), TTL).await.unwrap();
            for other in KINDS {
                let key = RecordKey::new(other, "bob", "b");
                assert_eq!(
                    store.put(&key, record("bob", 2000), TTL).await,
                    Err(StoreError::Full),
                    "{kind:?} then {other:?}"
                );
            }
        }
    }

    /// The verification a resume record keeps counts in the bytes held.
    #[tokio::test]
    async fn a_validation_counts_in_the_bytes_held() {
        let bare = record("alice", 0).held_bytes();
        let resumed = record("alice", 0).into_resume(Verification::new("k".repeat(1000)));
        assert!(
            resumed.held_bytes() >= bare + 1000,
            "{}",
            resumed.held_bytes()
        );
        let store = MemoryStore::default();
        let key = RecordKey::new(RecordKind::Resume, "alice", "r");
        store.put(&key, resumed.clone(), TTL).await.unwrap();
        assert_eq!(store.held_bytes(), resumed.held_bytes());
        store.take(&key).await.unwrap();
        assert_eq!(store.held_bytes(), 0);
    }

    #[tokio::test]
    async fn stashed_bytes_are_bounded_and_given_back() {
        let store = MemoryStore::builder().max_bytes(3000).build();
        let a = challenge("alice", "a");
        store.put(&a, record("alice", 2000), TTL).await.unwrap();
        let b = challenge("bob", "b");
        assert_eq!(
            store.put(&b, record("bob", 2000), TTL).await,
            Err(StoreError::Full)
        );
        store.put(&b, record("bob", 10), TTL).await.unwrap();
        store.take(&a).await.unwrap();
        assert!(store.held_bytes() < 100, "{}", store.held_bytes());
        let c = challenge("carol", "c");
        store.put(&c, record("carol", 2000), TTL).await.unwrap();
    }

    #[tokio::test]
    async fn a_key_cannot_be_put_twice() {
        let store = MemoryStore::default();
        let key = challenge("u", "k");
        put(&store, &key, TTL).await.unwrap();
        assert_eq!(
            store.put(&key, record("v", 0), TTL).await,
            Err(StoreError::Duplicate)
        );
        assert_eq!(store.take(&key).await.unwrap().unwrap().user_id(), "u");
    }

    /// Many tasks race on two worker threads, all released at once by a barrier: a take
    /// that looked the record up and removed it in two steps would let several through.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_takes_yield_one_record() {
        for round in 0..21 {
            let store = Arc::new(MemoryStore::default());
            let key = RecordKey::new(KINDS[round % KINDS.len()], "u", format!("k{round}"));
            put(&store, &key, TTL).await.unwrap();
            let barrier = Arc::new(tokio::sync::Barrier::new(64));
            let takes: Vec<_> = (0..64)
                .map(|_| {
                    let (store, key, barrier) = (store.clone(), key.clone(), barrier.clone());
                    tokio::spawn(async move {
                        barrier.wait().await;
                        store.take(&key).await.unwrap().is_some()
                    })
                })
                .collect();
            let mut found = 0;
            for take in takes {
                found += usize::from(take.await.unwrap());
            }
            assert_eq!(found, 1, "round {round}");
        }
    }

    /// The per-user bound holds under concurrent puts of one user.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_puts_do_not_overshoot_the_user_bound() {
        let store = Arc::new(MemoryStore::builder().per_user(5).build());
        let barrier = Arc::new(tokio::sync::Barrier::new(50));
        let puts: Vec<_> = (0..50)
            .map(|n| {
                let (store, barrier) = (store.clone(), barrier.clone());
                tokio::spawn(async move {
                    barrier.wait().await;
                    put(&store, &challenge("mallory", &format!("m{n}")), TTL)
                        .await
                        .is_ok()
                })
            })
            .collect();
        let mut stored = 0;
        for put in puts {
            stored += usize::from(put.await.unwrap());
        }
        assert_eq!(stored, 5);
    }

    #[test]
    fn debug_hides_the_body() {
        let record = record("u", 0).with_stash(StashedRequest::new(
            Bytes::from_static(b"amount=5000"),
            None,
        ));
        let text = format!("{record:?}");
        assert!(!text.contains("amount"), "{text}");
    }
}
