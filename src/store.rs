//! Pending challenges: what the gate remembers between a challenge and its answer.
//!
//! When `track` answers `CHALLENGE_REQUIRED`, the gate stores a [`PendingChallenge`] under
//! the action's idempotency key: who was challenged, for which action, and which request.
//! When a validated token comes back, the gate *takes* the record: taking is atomic, so of
//! any number of concurrent uses of one token exactly one finds the record, and a replay
//! finds nothing. This is what makes a token good once, whether or not Authsignal itself
//! consumes tokens (it does not document that it does).
//!
//! [`MemoryStore`] is the default. Behind several instances of an app, plug in a shared
//! store by implementing [`PendingChallengeStore`] (e.g. on Redis with `SET NX PX` and
//! `GETDEL`).

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;
use std::time::Duration;

use bytes::Bytes;
use http::Method;
use tokio::time::Instant;

/// The request a challenge was issued for.
#[derive(Clone, PartialEq, Eq)]
pub struct PendingChallenge {
    /// The user who was challenged.
    pub user_id: String,
    /// The action tracked.
    pub action: String,
    /// The challenged request's method.
    pub method: Method,
    /// The challenged request's path and query (without any token parameter).
    pub path_and_query: String,
    /// SHA-256 of the challenged request's body.
    pub body_sha256: [u8; 32],
    /// For a browser, the request itself, replayed when the user comes back so that they
    /// need not submit again. `None` for API clients, which retry themselves.
    pub stashed: Option<StashedRequest>,
}

impl std::fmt::Debug for PendingChallenge {
    // The body may hold anything the user typed: it stays out of logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PendingChallenge")
            .field("user_id", &self.user_id)
            .field("action", &self.action)
            .field("method", &self.method)
            .field("path_and_query", &self.path_and_query)
            .field("stashed", &self.stashed)
            .finish_non_exhaustive()
    }
}

/// A browser request kept to be replayed after the pre-built UI.
#[derive(Clone, PartialEq, Eq)]
pub struct StashedRequest {
    /// The body as it was sent.
    pub body: Bytes,
    /// Its `Content-Type`, if any.
    pub content_type: Option<String>,
}

impl std::fmt::Debug for StashedRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StashedRequest")
            .field("body_len", &self.body.len())
            .field("content_type", &self.content_type)
            .finish()
    }
}

/// Why a store operation failed. Apart from [`Duplicate`](Self::Duplicate) (a replay), the
/// gate answers 503 and runs nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The key is already held.
    #[error("the key is already held")]
    Duplicate,
    /// The store is at capacity.
    #[error("the store is full")]
    Full,
    /// The store's backend failed.
    #[error("the store failed: {0}")]
    Backend(String),
}

/// A boxed future, so that stores can be used as `dyn PendingChallengeStore`.
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

/// Where pending challenges are kept between the two legs of a step-up.
///
/// Implementations must make [`take`](Self::take) atomic: two concurrent calls with the
/// same key must never both return the record.
pub trait PendingChallengeStore: Send + Sync + 'static {
    /// Keeps `record` under `key` for `ttl`, unless the key is already held (and not
    /// expired): then it fails with [`StoreError::Duplicate`] and changes nothing. This
    /// put-if-absent must be atomic too: it is how spent tokens are remembered.
    fn put(&self, key: String, record: PendingChallenge, ttl: Duration) -> StoreFuture<'_, ()>;

    /// Removes and returns the record under `key`, if it is there and has not expired.
    fn take<'a>(&'a self, key: &'a str) -> StoreFuture<'a, Option<PendingChallenge>>;
}

/// The default store: in memory, with a time to live and a bound on its size.
///
/// ```
/// # tokio_test_block_on(async {
/// use std::time::Duration;
/// use axum_authsignal::store::{MemoryStore, PendingChallengeStore};
/// # use axum_authsignal::store::PendingChallenge;
/// # let record = PendingChallenge { user_id: "u".into(), action: "a".into(),
/// #     method: http::Method::POST, path_and_query: "/".into(), body_sha256: [0; 32],
/// #     stashed: None };
/// let store = MemoryStore::new(1000);
/// store.put("key".into(), record, Duration::from_secs(600)).await.unwrap();
/// assert!(store.take("key").await.unwrap().is_some());
/// assert!(store.take("key").await.unwrap().is_none()); // good once
/// # });
/// # fn tokio_test_block_on<F: std::future::Future>(f: F) -> F::Output {
/// #     tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(f)
/// # }
/// ```
#[derive(Debug)]
pub struct MemoryStore {
    capacity: usize,
    records: Mutex<Records>,
}

#[derive(Debug, Default)]
struct Records {
    by_key: HashMap<String, (PendingChallenge, Instant)>,
    /// When expired records were last swept out.
    swept_at: Option<Instant>,
}

/// How often a full store looks for expired records to drop. Sweeping costs a pass over
/// every record; without a pause, each refused put on a full store would pay it again.
const SWEEP_INTERVAL: Duration = Duration::from_secs(1);

/// How many pending challenges [`MemoryStore::default`] keeps at most.
pub const DEFAULT_MEMORY_STORE_CAPACITY: usize = 10_000;

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new(DEFAULT_MEMORY_STORE_CAPACITY)
    }
}

impl MemoryStore {
    /// A store that keeps at most `capacity` records. When it is full and nothing has
    /// expired, new challenges are refused (503) rather than old ones dropped: dropping
    /// would fail users who are mid-challenge, refusing fails only the newcomer.
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            records: Mutex::new(Records::default()),
        }
    }

    /// How many records are held now, expired ones included until they are swept.
    pub fn len(&self) -> usize {
        self.lock().by_key.len()
    }

    /// Whether no record is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Records> {
        // A panic while holding the lock cannot leave the map half-updated (every
        // operation is a single insert, remove or retain), so a poisoned lock is still
        // usable.
        self.records
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl PendingChallengeStore for MemoryStore {
    fn put(&self, key: String, record: PendingChallenge, ttl: Duration) -> StoreFuture<'_, ()> {
        let result = (|| {
            let now = Instant::now();
            let mut records = self.lock();
            let sweep_due = records
                .swept_at
                .is_none_or(|swept| now.duration_since(swept) >= SWEEP_INTERVAL);
            if records.by_key.len() >= self.capacity && sweep_due {
                records.by_key.retain(|_, (_, expires)| *expires > now);
                records.swept_at = Some(now);
            }
            if records.by_key.len() >= self.capacity {
                return Err(StoreError::Full);
            }
            if records
                .by_key
                .get(&key)
                .is_some_and(|(_, expires)| *expires > now)
            {
                return Err(StoreError::Duplicate);
            }
            records.by_key.insert(key, (record, now + ttl));
            Ok(())
        })();
        Box::pin(std::future::ready(result))
    }

    fn take<'a>(&'a self, key: &'a str) -> StoreFuture<'a, Option<PendingChallenge>> {
        let taken = self
            .lock()
            .by_key
            .remove(key)
            .filter(|(_, expires)| *expires > Instant::now())
            .map(|(record, _)| record);
        Box::pin(std::future::ready(Ok(taken)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(user: &str) -> PendingChallenge {
        PendingChallenge {
            user_id: user.into(),
            action: "withdraw".into(),
            method: Method::POST,
            path_and_query: "/withdraw".into(),
            body_sha256: [7; 32],
            stashed: Some(StashedRequest {
                body: Bytes::from_static(b"amount=5000"),
                content_type: None,
            }),
        }
    }

    const TTL: Duration = Duration::from_secs(600);

    #[tokio::test]
    async fn take_is_once() {
        let store = MemoryStore::default();
        store.put("k".into(), record("u"), TTL).await.unwrap();
        assert_eq!(store.take("k").await.unwrap(), Some(record("u")));
        assert_eq!(store.take("k").await.unwrap(), None);
    }

    #[tokio::test(start_paused = true)]
    async fn records_expire() {
        let store = MemoryStore::default();
        store.put("k".into(), record("u"), TTL).await.unwrap();
        tokio::time::advance(TTL + Duration::from_secs(1)).await;
        assert_eq!(store.take("k").await.unwrap(), None);
    }

    #[tokio::test(start_paused = true)]
    async fn a_full_store_refuses_until_something_expires() {
        let store = MemoryStore::new(2);
        store.put("a".into(), record("u"), TTL).await.unwrap();
        store
            .put("b".into(), record("u"), Duration::from_secs(1))
            .await
            .unwrap();
        assert!(store.put("c".into(), record("u"), TTL).await.is_err());
        tokio::time::advance(Duration::from_secs(2)).await;
        store.put("c".into(), record("u"), TTL).await.unwrap();
        assert_eq!(store.len(), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn a_full_store_sweeps_at_most_once_a_second() {
        let store = MemoryStore::new(1);
        let second = Duration::from_secs(1);
        store.put("a".into(), record("u"), second).await.unwrap();
        tokio::time::advance(second / 2).await;
        // Full, nothing expired: swept, refused.
        assert_eq!(
            store.put("b".into(), record("u"), TTL).await,
            Err(StoreError::Full)
        );
        tokio::time::advance(second * 6 / 10).await;
        // "a" has expired, but the last sweep was 0.6 s ago: refused without a sweep.
        assert_eq!(
            store.put("b".into(), record("u"), TTL).await,
            Err(StoreError::Full)
        );
        tokio::time::advance(second / 2).await;
        store.put("b".into(), record("u"), TTL).await.unwrap();
    }

    #[tokio::test]
    async fn a_key_cannot_be_put_twice() {
        let store = MemoryStore::default();
        store.put("k".into(), record("u"), TTL).await.unwrap();
        assert!(store.put("k".into(), record("v"), TTL).await.is_err());
        assert_eq!(store.take("k").await.unwrap().unwrap().user_id, "u");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_takes_yield_one_record() {
        let store = std::sync::Arc::new(MemoryStore::default());
        store.put("k".into(), record("u"), TTL).await.unwrap();
        let takes = (0..100).map(|_| {
            let store = store.clone();
            tokio::spawn(async move { store.take("k").await.unwrap().is_some() })
        });
        let mut found = 0;
        for take in takes {
            found += usize::from(take.await.unwrap());
        }
        assert_eq!(found, 1);
    }

    #[test]
    fn debug_hides_the_body() {
        let text = format!("{:?}", record("u"));
        assert!(!text.contains("amount"), "{text}");
    }
}
