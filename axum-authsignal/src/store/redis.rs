//! [`RedisStore`]: pending challenges shared by every instance of an app, in Redis.

mod connection;
mod keys;
mod scripts;

use std::future::Future;
use std::time::Duration;

use ::redis::aio::ConnectionManagerConfig;
use ::redis::{ConnectionInfo, IntoConnectionInfo, RedisError};

use self::connection::Connection;
use self::keys::KeyLayout;
use self::scripts::Scripts;
use super::{
    DEFAULT_PER_USER, PendingChallenge, PendingChallengeStore, RecordKey, StoreError, StoreFuture,
};

/// How long [`RedisStore`] waits for Redis by default, per operation (and to connect).
pub const DEFAULT_REDIS_TIMEOUT: Duration = Duration::from_millis(500);
/// The prefix of every key [`RedisStore`] writes, by default.
pub const DEFAULT_REDIS_PREFIX: &str = "authsignal:";

/// The longest time to live kept: a century. Longer ones are cut to it (Redis refuses
/// expiry times past its clock's range, and the scripts count in f64 milliseconds).
const MAX_TTL_MS: u64 = 100 * 365 * 24 * 3600 * 1000;

/// Reconnection after Redis went away: attempts `RECONNECT_MIN_DELAY` apart at first,
/// doubling up to `RECONNECT_MAX_DELAY`, so that a restarted Redis is used again within
/// about a second; after `RECONNECT_ATTEMPTS` the next operation starts over.
const RECONNECT_MIN_DELAY: Duration = Duration::from_millis(50);
const RECONNECT_MAX_DELAY: Duration = Duration::from_secs(1);
const RECONNECT_ATTEMPTS: usize = 8;

/// A store in Redis, for an app served by several instances: a challenge issued by one
/// instance is answered at any other, and a token is good exactly once across all of them.
/// Redis Cluster is supported too, with the `redis-cluster` feature.
///
/// It keeps [`MemoryStore`](super::MemoryStore)'s semantics, each operation in one round
/// trip and atomic on the server, one mechanism for every [`RecordKind`](super::RecordKind):
///
/// - [`put`](PendingChallengeStore::put) is one Lua script: put-if-absent with a time to
///   live, and the user's bound ([`per_user`](RedisStoreBuilder::per_user), default
///   [`DEFAULT_PER_USER`]) over their records of every kind (pending challenges, resume
///   records, spent tokens, held reviews), kept in an index of the user's: a user over it gets
///   [`StoreError::UserLimit`] with the time until their first record expires, however
///   many instances race.
/// - [`take`](PendingChallengeStore::take) is one Lua script too: `GETDEL` of the record,
///   and its place in the user's index freed with it. Of any number of concurrent takes
///   on any number of instances, one gets the record.
/// - Every key has a time to live, and expiry is the server's: instances whose clocks
///   disagree agree on when a record expires.
/// - Every operation is bounded by [`timeout`](RedisStoreBuilder::timeout) (default
///   [`DEFAULT_REDIS_TIMEOUT`]): a Redis that is down, unreachable or paused gives
///   [`StoreError::Backend`] (the gate answers 503) within it. The connection comes back by
///   itself when Redis does. An operation that timed out may still be carried out later
///   by Redis; that fails closed (a put takes a place in the bound until it expires, a
///   take loses the record and the user is challenged again).
/// - Redis' own memory bound is the store's capacity: past `maxmemory`, puts of every kind
///   get [`StoreError::Full`], takes still work and make room. A resume record refused so
///   fails closed: the user is challenged again. Size `maxmemory` for the records you
///   expect: a resume record holds the stashed body, up to the route's body limit. Set
///   `maxmemory-policy noeviction`: an evicting Redis could drop a
///   [`RecordKind::Spent`](super::RecordKind::Spent) record and let its token be used again.
///
/// Records are kept as [`PendingChallenge::encode`] writes them. Keys (all under the
/// [`prefix`](RedisStoreBuilder::prefix), default [`DEFAULT_REDIS_PREFIX`]):
///
/// ```text
/// {prefix}{<tag>}:challenge:<idempotency key>    a pending challenge
/// {prefix}{<tag>}:resume:<idempotency key>       a completed browser challenge
/// {prefix}{<tag>}:spent:<idempotency key>        a token the validator accepted
/// {prefix}{<tag>}:review:<key>.<request digest>  a request held for a manual review
/// {prefix}{<tag>}:records                        the user's records of every kind: a sorted
///                                                set of `<kind>:<idempotency key>` scored
///                                                by expiry, for the per-user bound
/// ```
///
/// `<tag>` is the first 128 bits of SHA-256 of the user id, in hex: a Redis Cluster hash
/// tag, so that a user's keys share one slot whatever their user id holds. Redis 6.2 or
/// later is needed (`GETDEL`).
///
/// [`pending_challenges`](PendingChallengeStore::pending_challenges) is `None`: counting
/// would mean scanning every node.
///
/// ```no_run
/// # async fn run() -> Result<(), axum_authsignal::store::StoreError> {
/// use std::time::Duration;
/// use axum_authsignal::store::{PendingChallengeStore, RecordKey, RecordKind, RedisStore};
/// # use axum_authsignal::store::PendingChallenge;
/// # let record = PendingChallenge::challenge("alice", "a", http::Method::POST, "/");
/// let store = RedisStore::builder("redis://127.0.0.1:6379/")
///     .prefix("payments:authsignal:")
///     .per_user(5)
///     .timeout(Duration::from_millis(250))
///     .build()
///     .await?;
/// let key = RecordKey::new(RecordKind::Challenge, "alice", "key-1");
/// store.put(&key, record, Duration::from_secs(600)).await?;
/// assert!(store.take(&key).await?.is_some());
/// assert!(store.take(&key).await?.is_none()); // good once, on every instance
/// # Ok(())
/// # }
/// ```
pub struct RedisStore {
    connection: Connection,
    keys: KeyLayout,
    per_user: usize,
    timeout: Duration,
    scripts: Scripts,
}

impl std::fmt::Debug for RedisStore {
    // The connection holds the server's address and maybe a password: neither is shown.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore")
            .field("topology", &self.connection.topology())
            .field("prefix", &self.keys.prefix())
            .field("per_user", &self.per_user)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// Builds a [`RedisStore`]: where Redis is, then the bounds and names, then
/// [`build`](Self::build) connects.
#[must_use]
pub struct RedisStoreBuilder {
    target: Target,
    prefix: String,
    per_user: usize,
    timeout: Duration,
}

/// Where Redis is, or why the address given is not one.
enum Target {
    Single(Result<ConnectionInfo, String>),
    #[cfg(feature = "redis-cluster")]
    Cluster(Result<Vec<ConnectionInfo>, String>),
}

impl std::fmt::Debug for RedisStoreBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let topology = match self.target {
            Target::Single(_) => "single",
            #[cfg(feature = "redis-cluster")]
            Target::Cluster(_) => "cluster",
        };
        f.debug_struct("RedisStoreBuilder")
            .field("topology", &topology)
            .field("prefix", &self.prefix)
            .field("per_user", &self.per_user)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl RedisStore {
    /// A builder for a store on one Redis server: a URL such as `redis://host:6379/0`
    /// (`rediss://` needs the `redis` crate's TLS features), or a `redis::ConnectionInfo`.
    pub fn builder(server: impl IntoConnectionInfo) -> RedisStoreBuilder {
        let target = Target::Single(server.into_connection_info().map_err(|err| err.to_string()));
        RedisStoreBuilder::new(target)
    }

    /// A builder for a store on Redis Cluster, from the addresses of some of its nodes
    /// (the others are found from them).
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), axum_authsignal::store::StoreError> {
    /// use axum_authsignal::store::RedisStore;
    /// let store = RedisStore::cluster_builder(["redis://10.0.0.1:6379", "redis://10.0.0.2:6379"])
    ///     .build()
    ///     .await?;
    /// # Ok(())
    /// # }
    /// ```
    #[cfg(feature = "redis-cluster")]
    #[cfg_attr(docsrs, doc(cfg(feature = "redis-cluster")))]
    pub fn cluster_builder<I>(nodes: I) -> RedisStoreBuilder
    where
        I: IntoIterator,
        I::Item: IntoConnectionInfo,
    {
        let nodes = nodes
            .into_iter()
            .map(IntoConnectionInfo::into_connection_info)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|err| err.to_string());
        RedisStoreBuilder::new(Target::Cluster(nodes))
    }

    /// Runs one Redis operation within the store's timeout.
    async fn bounded<T>(
        &self,
        operation: impl Future<Output = Result<T, RedisError>>,
    ) -> Result<T, StoreError> {
        match tokio::time::timeout(self.timeout, operation).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(err)) => Err(store_error(&err)),
            Err(_) => Err(timed_out(self.timeout)),
        }
    }

    async fn put_record(
        &self,
        key: &RecordKey,
        record: PendingChallenge,
        ttl: Duration,
    ) -> Result<(), StoreError> {
        let bytes = record.encode().ok_or(StoreError::TooLarge)?;
        let mut invocation = self.scripts.put.prepare_invoke();
        invocation
            .key(self.keys.record(key))
            .key(self.keys.index(&key.user_id))
            .arg(bytes)
            .arg(ttl_millis(ttl))
            .arg(self.per_user)
            .arg(scripts::index_member(key));
        let mut connection = self.connection.clone();
        let reply: Vec<i64> = self
            .bounded(invocation.invoke_async(&mut connection))
            .await?;
        scripts::put_outcome(&reply)
    }

    async fn take_record(&self, key: &RecordKey) -> Result<Option<PendingChallenge>, StoreError> {
        let mut invocation = self.scripts.take.prepare_invoke();
        invocation
            .key(self.keys.record(key))
            .key(self.keys.index(&key.user_id))
            .arg(scripts::index_member(key));
        let mut connection = self.connection.clone();
        let bytes: Option<Vec<u8>> = self
            .bounded(invocation.invoke_async(&mut connection))
            .await?;
        bytes
            .map(|bytes| {
                PendingChallenge::decode(&bytes).map_err(|err| StoreError::Backend(err.to_string()))
            })
            .transpose()
    }
}

impl RedisStoreBuilder {
    fn new(target: Target) -> Self {
        Self {
            target,
            prefix: DEFAULT_REDIS_PREFIX.to_owned(),
            per_user: DEFAULT_PER_USER,
            timeout: DEFAULT_REDIS_TIMEOUT,
        }
    }

    /// Every key starts with this (default [`DEFAULT_REDIS_PREFIX`]): apps, or stages of
    /// one app, that share a Redis keep apart by their prefixes. It may not contain `{`,
    /// which would take the place of the store's hash tag.
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// At most this many records per user, of every kind (at least 1; default
    /// [`DEFAULT_PER_USER`]).
    pub fn per_user(mut self, records: usize) -> Self {
        self.per_user = records.max(1);
        self
    }

    /// How long one operation, or connecting, may take before it fails with
    /// [`StoreError::Backend`] (at least 1 ms; default [`DEFAULT_REDIS_TIMEOUT`]). It is
    /// what a request waits at most for the store while Redis is down or paused.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout.max(Duration::from_millis(1));
        self
    }

    /// Connects to Redis (within the timeout) and returns the store.
    ///
    /// # Errors
    ///
    /// [`StoreError::Backend`] when the address does not parse, the prefix holds `{`, or
    /// Redis cannot be reached within the timeout.
    pub async fn build(self) -> Result<RedisStore, StoreError> {
        let keys = KeyLayout::new(self.prefix).map_err(|why| StoreError::Backend(why.into()))?;
        let connect = connect(self.target, self.timeout);
        let connection = match tokio::time::timeout(self.timeout, connect).await {
            Ok(connection) => connection?,
            Err(_) => return Err(timed_out(self.timeout)),
        };
        Ok(RedisStore {
            connection,
            keys,
            per_user: self.per_user,
            timeout: self.timeout,
            scripts: Scripts::new(),
        })
    }
}

async fn connect(target: Target, timeout: Duration) -> Result<Connection, StoreError> {
    let invalid = |why: String| StoreError::Backend(format!("invalid Redis address: {why}"));
    match target {
        Target::Single(info) => {
            let client = ::redis::Client::open(info.map_err(invalid)?)
                .map_err(|err| invalid(err.to_string()))?;
            let config = ConnectionManagerConfig::new()
                .set_connection_timeout(Some(timeout))
                .set_response_timeout(Some(timeout))
                .set_min_delay(RECONNECT_MIN_DELAY)
                .set_max_delay(RECONNECT_MAX_DELAY)
                .set_number_of_retries(RECONNECT_ATTEMPTS);
            let manager = ::redis::aio::ConnectionManager::new_with_config(client, config)
                .await
                .map_err(|err| store_error(&err))?;
            Ok(Connection::Single(manager))
        }
        #[cfg(feature = "redis-cluster")]
        Target::Cluster(nodes) => {
            let client = ::redis::cluster::ClusterClient::builder(nodes.map_err(invalid)?)
                .connection_timeout(timeout)
                .response_timeout(timeout)
                .build()
                .map_err(|err| invalid(err.to_string()))?;
            let connection = client
                .get_async_connection()
                .await
                .map_err(|err| store_error(&err))?;
            Ok(Connection::Cluster(connection))
        }
    }
}

/// A Redis error as the gate sees it: past `maxmemory` the store is full; anything else
/// is the backend failing.
fn store_error(err: &RedisError) -> StoreError {
    if err.code() == Some("OOM") {
        return StoreError::Full;
    }
    StoreError::Backend(format!("Redis: {err}"))
}

fn timed_out(timeout: Duration) -> StoreError {
    StoreError::Backend(format!("Redis did not answer within {timeout:?}"))
}

/// A time to live in whole milliseconds, rounded up (a record never lives shorter than
/// asked, and at least 1 ms), at most [`MAX_TTL_MS`].
fn ttl_millis(ttl: Duration) -> u64 {
    let ms = ttl.as_nanos().div_ceil(1_000_000).max(1);
    u64::try_from(ms).unwrap_or(MAX_TTL_MS).min(MAX_TTL_MS)
}

impl PendingChallengeStore for RedisStore {
    fn put<'a>(
        &'a self,
        key: &'a RecordKey,
        record: PendingChallenge,
        ttl: Duration,
    ) -> StoreFuture<'a, ()> {
        Box::pin(self.put_record(key, record, ttl))
    }

    fn take<'a>(&'a self, key: &'a RecordKey) -> StoreFuture<'a, Option<PendingChallenge>> {
        Box::pin(self.take_record(key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttls_are_whole_milliseconds_rounded_up_and_bounded() {
        assert_eq!(ttl_millis(Duration::ZERO), 1);
        assert_eq!(ttl_millis(Duration::from_micros(1)), 1);
        assert_eq!(ttl_millis(Duration::from_micros(1001)), 2);
        assert_eq!(ttl_millis(Duration::from_secs(600)), 600_000);
        assert_eq!(ttl_millis(Duration::MAX), MAX_TTL_MS);
    }

    #[tokio::test]
    async fn a_bad_address_or_prefix_is_refused_before_connecting() {
        let bad_url = RedisStore::builder("http://nowhere").build().await;
        assert!(
            matches!(&bad_url, Err(StoreError::Backend(why)) if why.contains("invalid Redis address")),
            "{bad_url:?}"
        );
        let bad_prefix = RedisStore::builder("redis://127.0.0.1:1/")
            .prefix("a{b}")
            .build()
            .await;
        assert_eq!(
            bad_prefix.unwrap_err(),
            StoreError::Backend(keys::PREFIX_WITH_BRACE.into())
        );
    }

    #[test]
    fn debug_shows_neither_address_nor_password() {
        let builder = RedisStore::builder("redis://:hunter2@10.1.2.3:6379/").prefix("p:");
        let text = format!("{builder:?}");
        assert!(
            !text.contains("hunter2") && !text.contains("10.1.2.3"),
            "{text}"
        );
        assert!(text.contains("p:"), "{text}");
    }
}
