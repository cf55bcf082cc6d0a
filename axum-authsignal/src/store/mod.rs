//! Pending challenges: what the gate remembers between a challenge and its answer.
//!
//! When `track` answers `CHALLENGE_REQUIRED`, the gate stores a [`PendingChallenge`] under a
//! [`RecordKey`] (the user and the action's idempotency key): who was challenged, for which
//! action, and which request. When a validated token comes back, the gate *takes* the
//! record: taking is atomic, so of any number of concurrent uses of one token exactly one
//! finds the record, and a replay finds nothing. This is what makes a token good once,
//! whether or not Authsignal itself consumes tokens (it does not document that it does).
//!
//! A store also keeps one user from denying service to the others: every record it keeps
//! for a user, of every [`RecordKind`], counts against that user's bound (a user over it
//! gets [`StoreError::UserLimit`], a 429, and nobody else is affected) and against the
//! store's total. A record refused because the store is full ([`StoreError::Full`]) fails
//! closed: the gate answers 503 and runs nothing; for a resume record, the user is
//! challenged again.
//!
//! [`MemoryStore`] is the default and serves one instance. Behind several instances of an
//! app, every instance must share one store: `RedisStore` (feature `redis`, and
//! `redis-cluster` for Redis Cluster), or [`PendingChallengeStore`] implemented on another
//! shared engine, with [`PendingChallenge::encode`] and [`PendingChallenge::decode`] for
//! the record's bytes.
//!
//! The record belongs to the store: [`PendingChallenge`] is built by a constructor per
//! kind and read through accessors, so that a field added to it breaks no store written
//! elsewhere, and its bytes embed no type of the Authsignal client. Those bytes carry a
//! version of their own ([`PendingChallenge::FORMAT_VERSION`]); a store that finds another
//! refuses the record, and the gate fails closed on it.

mod memory;
mod record;
#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
mod redis;
#[cfg(feature = "store-suite")]
#[cfg_attr(docsrs, doc(cfg(feature = "store-suite")))]
pub mod suite;

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

pub use memory::{
    DEFAULT_CAPACITY, DEFAULT_PER_USER, DEFAULT_STASH_BYTES, MemoryStore, MemoryStoreBuilder,
};
pub use record::{
    DecodeRecordError, MAX_RECORD_BYTES, PendingChallenge, StashedRequest, Verification,
};
#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub use redis::{DEFAULT_REDIS_PREFIX, DEFAULT_REDIS_TIMEOUT, RedisStore, RedisStoreBuilder};

/// What a record is kept for. Records of every kind count alike against the user's bound
/// and the store's total: the kind names the record, it exempts it from nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RecordKind {
    /// A challenge issued and not yet answered.
    Challenge,
    /// A browser request whose challenge was just completed, waiting for the gate's resume
    /// page to post it back: it holds the stashed body (up to the route's body limit) and
    /// what it keeps of Authsignal's validation ([`Verification`]). It replaces the challenge record taken a moment before, so
    /// it normally finds the room that take freed; refused (the user at their bound, or
    /// the store full), the gate answers 429 or 503, runs nothing, and the user is
    /// challenged again.
    Resume,
    /// A token the standalone validator accepted, remembered for the token's lifetime so
    /// that it is good once.
    Spent,
    /// A request Authsignal sent to a manual review, held until a reviewer decides (on a
    /// route that holds reviews): it binds the request as a challenge does and, for a
    /// browser, stashes it. Its key's id is the action's idempotency key and a digest of
    /// the request's bound parts, so that only the very request finds it. Taken once, when
    /// Authsignal reports the action approved, denied or gone.
    Review,
}

impl RecordKind {
    /// A short stable name, for keys in shared stores.
    pub fn as_str(self) -> &'static str {
        match self {
            RecordKind::Challenge => "challenge",
            RecordKind::Resume => "resume",
            RecordKind::Spent => "spent",
            RecordKind::Review => "review",
        }
    }
}

/// Where a record is kept: what for, whose, and the idempotency key of its action.
///
/// A record is found only under the user it was put for: a key naming another user finds
/// nothing, whatever the idempotency key.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct RecordKey {
    /// What the record is kept for.
    pub kind: RecordKind,
    /// The user the record belongs to.
    pub user_id: String,
    /// The idempotency key of the tracked action (a UUID the gate generated).
    pub idempotency_key: String,
}

impl RecordKey {
    /// The key of a record of `kind` for `user_id`'s action `idempotency_key`.
    ///
    /// ```
    /// use axum_authsignal::store::{RecordKey, RecordKind};
    /// let key = RecordKey::new(RecordKind::Challenge, "alice", "0b6c…");
    /// assert_eq!(key.user_id, "alice");
    /// ```
    pub fn new(
        kind: RecordKind,
        user_id: impl Into<String>,
        idempotency_key: impl Into<String>,
    ) -> Self {
        Self {
            kind,
            user_id: user_id.into(),
            idempotency_key: idempotency_key.into(),
        }
    }
}

impl std::fmt::Debug for RecordKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "RecordKey({}, {:?}, {:?})",
            self.kind.as_str(),
            self.user_id,
            self.idempotency_key
        )
    }
}

/// Why a store operation failed. Apart from [`Duplicate`](Self::Duplicate) (a replay) and
/// [`UserLimit`](Self::UserLimit) (a 429), the gate answers 503 and runs nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The key is already held.
    #[error("the key is already held")]
    Duplicate,
    /// This user holds as many records as they may (of every kind); the first of them
    /// expires within `retry_after`. Nobody else is affected.
    #[error("the user holds too many step-up records")]
    UserLimit {
        /// When the user's first record expires.
        retry_after: Duration,
    },
    /// The store is at capacity (records or bytes, of every kind).
    #[error("the store is full")]
    Full,
    /// The record is larger than the store keeps.
    #[error("the record is too large to keep")]
    TooLarge,
    /// The store's backend failed or did not answer in time.
    #[error("the store failed: {0}")]
    Backend(String),
}

/// A boxed future, so that stores can be used as `dyn PendingChallengeStore`.
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

/// Where pending challenges are kept between the two legs of a step-up.
///
/// Implementations must make both operations atomic, for every [`RecordKind`] alike: two
/// concurrent [`take`](Self::take)s of one key never both return the record, and
/// [`put`](Self::put) is put-if-absent (it is how spent tokens are remembered). Every put,
/// of every kind, must respect a per-user bound over the user's records of every kind
/// atomically too, so that concurrent puts cannot overshoot it, and a total bound, so that
/// no user's records can take the room other users need. The conformance suite,
/// `suite` (feature `store-suite`), checks all of this: call it from your store's tests.
///
/// A complete store, over a `HashMap` behind a `Mutex`, that passes the suite (a store for
/// one instance: a shared one keeps its records in a shared engine, with
/// [`PendingChallenge::encode`] for their bytes):
///
/// ```
/// use std::collections::HashMap;
/// use std::sync::{Arc, Mutex};
/// use std::time::{Duration, Instant};
///
/// use axum_authsignal::store::suite::{self, Instances, Subject};
/// use axum_authsignal::store::{
///     MAX_RECORD_BYTES, PendingChallenge, PendingChallengeStore, RecordKey, RecordKind, StoreError,
///     StoreFuture,
/// };
///
/// /// Records in maps behind one lock: each operation holds it throughout, so a take is
/// /// atomic and no two puts can overshoot a bound.
/// struct MapStore {
///     per_user: usize,
///     capacity: usize,
///     state: Mutex<State>,
/// }
///
/// #[derive(Default)]
/// struct State {
///     /// Each user's records, by kind and idempotency key, with their expiry: the per-user
///     /// bound reads one user's records only.
///     users: HashMap<String, HashMap<(RecordKind, String), (PendingChallenge, Instant)>>,
///     /// Records of every user, expired ones included until swept: the total bound.
///     total: usize,
/// }
///
/// impl State {
///     /// Drops `user_id`'s expired records.
///     fn expire(&mut self, user_id: &str, now: Instant) {
///         if let Some(held) = self.users.get_mut(user_id) {
///             let before = held.len();
///             held.retain(|_, (_, expires)| *expires > now);
///             self.total -= before - held.len();
///             if held.is_empty() {
///                 self.users.remove(user_id);
///             }
///         }
///     }
/// }
///
/// impl MapStore {
///     fn new(per_user: usize, capacity: usize) -> Self {
///         let state = Mutex::new(State::default());
///         MapStore {
///             per_user,
///             capacity,
///             state,
///         }
///     }
///
///     fn put_now(
///         &self,
///         key: &RecordKey,
///         record: PendingChallenge,
///         ttl: Duration,
///     ) -> Result<(), StoreError> {
///         if record.held_bytes() > MAX_RECORD_BYTES {
///             return Err(StoreError::TooLarge);
///         }
///         let now = Instant::now();
///         let mut state = self
///             .state
///             .lock()
///             .unwrap_or_else(|poisoned| poisoned.into_inner());
///         state.expire(&key.user_id, now);
///         let id = (key.kind, key.idempotency_key.clone());
///         let held = state.users.get(&key.user_id);
///         if held.is_some_and(|held| held.contains_key(&id)) {
///             return Err(StoreError::Duplicate);
///         }
///         if let Some(held) = held.filter(|held| held.len() >= self.per_user) {
///             let first = held.values().map(|(_, expires)| *expires).min();
///             let retry_after = first.map_or(Duration::ZERO, |first| first - now);
///             return Err(StoreError::UserLimit { retry_after });
///         }
///         if state.total >= self.capacity {
///             // Full: sweep every user's expired records once before refusing.
///             let users: Vec<String> = state.users.keys().cloned().collect();
///             users.iter().for_each(|user| state.expire(user, now));
///             if state.total >= self.capacity {
///                 return Err(StoreError::Full);
///             }
///         }
///         let held = state.users.entry(key.user_id.clone()).or_default();
///         held.insert(id, (record, now + ttl));
///         state.total += 1;
///         Ok(())
///     }
///
///     fn take_now(&self, key: &RecordKey) -> Option<PendingChallenge> {
///         let mut state = self
///             .state
///             .lock()
///             .unwrap_or_else(|poisoned| poisoned.into_inner());
///         let held = state.users.get_mut(&key.user_id)?;
///         let taken = held.remove(&(key.kind, key.idempotency_key.clone()));
///         if held.is_empty() {
///             state.users.remove(&key.user_id);
///         }
///         let (record, expires) = taken?;
///         state.total -= 1;
///         (expires > Instant::now()).then_some(record)
///     }
/// }
///
/// impl PendingChallengeStore for MapStore {
///     fn put<'a>(
///         &'a self,
///         key: &'a RecordKey,
///         record: PendingChallenge,
///         ttl: Duration,
///     ) -> StoreFuture<'a, ()> {
///         Box::pin(std::future::ready(self.put_now(key, record, ttl)))
///     }
///
///     fn take<'a>(&'a self, key: &'a RecordKey) -> StoreFuture<'a, Option<PendingChallenge>> {
///         Box::pin(std::future::ready(Ok(self.take_now(key))))
///     }
/// }
///
/// /// The suite opens fresh stores; the instances of an app share one.
/// struct Fresh;
///
/// impl Subject for Fresh {
///     async fn open(&self, per_user: usize, instances: usize) -> Instances {
///         let store: Arc<dyn PendingChallengeStore> = Arc::new(MapStore::new(per_user, 100_000));
///         vec![store; instances]
///     }
///
///     fn racing_keys(&self) -> usize {
///         2_000
///     }
/// }
///
/// #[tokio::main(flavor = "current_thread")]
/// async fn main() {
///     suite::run(&Fresh).await;
/// }
/// ```
pub trait PendingChallengeStore: Send + Sync + 'static {
    /// Keeps `record` under `key` for `ttl`, unless the key is already held and not expired
    /// ([`StoreError::Duplicate`], nothing changed), or a bound refuses it
    /// ([`StoreError::UserLimit`], [`StoreError::Full`], [`StoreError::TooLarge`]).
    fn put<'a>(
        &'a self,
        key: &'a RecordKey,
        record: PendingChallenge,
        ttl: Duration,
    ) -> StoreFuture<'a, ()>;

    /// Removes and returns the record under `key`, if it is there and has not expired.
    fn take<'a>(&'a self, key: &'a RecordKey) -> StoreFuture<'a, Option<PendingChallenge>>;

    /// How many challenges are pending now ([`RecordKind::Challenge`] records only), where
    /// the store can tell cheaply (for a gauge).
    fn pending_challenges(&self) -> Option<u64> {
        None
    }
}
