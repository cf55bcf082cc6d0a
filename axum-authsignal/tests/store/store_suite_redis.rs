//! `RedisStore` as a subject of the store conformance suite (`store::suite`), on one
//! server or on Redis Cluster, and the checks that only make sense in Redis: the key
//! prefix, a time to live on every key, the documented key layout.
//!
//! Each store opened here gets a prefix of its own, so the tests of one binary share one
//! server (or cluster) without seeing each other's keys.
#![allow(dead_code)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum_authsignal::store::{
    PendingChallengeStore, RecordKey, RecordKind, RedisStore, RedisStoreBuilder, StoreError,
};
use sha2::{Digest, Sha256};

use crate::redis_support::{RedisCluster, RedisServer};
use axum_authsignal::store::suite::{AWKWARD_USERS, Instances, Subject, TTL, challenge, put};

/// Generous, so that a loaded machine does not turn a slow answer into a failure; the
/// fault tests check the timeout itself.
const TIMEOUT: Duration = Duration::from_secs(5);

/// Where the stores under test are.
#[derive(Debug, Clone, Copy)]
pub enum RedisSubject {
    Single(&'static RedisServer),
    Cluster(&'static RedisCluster),
}

impl RedisSubject {
    /// A builder for this deployment, with the suite's timeout.
    pub fn builder(&self) -> RedisStoreBuilder {
        let builder = match self {
            RedisSubject::Single(server) => RedisStore::builder(server.url()),
            RedisSubject::Cluster(cluster) => RedisStore::cluster_builder(cluster.urls()),
        };
        builder.timeout(TIMEOUT)
    }

    /// `instances` stores on one prefix, each with a connection of its own.
    pub async fn open_on(
        &self,
        prefix: &str,
        per_user: usize,
        instances: usize,
    ) -> Vec<Arc<RedisStore>> {
        let mut stores = Vec::with_capacity(instances);
        for _ in 0..instances {
            let store = self
                .builder()
                .prefix(prefix)
                .per_user(per_user)
                .build()
                .await
                .expect("the store connects to the test's Redis");
            stores.push(Arc::new(store));
        }
        stores
    }

    /// Every key under `prefix`, on every node, with the Unix time in ms at which it
    /// expires (`PEXPIRETIME`, Redis 7; -1: never).
    pub fn keys(&self, prefix: &str) -> Vec<(Vec<u8>, i64)> {
        let nodes: Vec<&RedisServer> = match self {
            RedisSubject::Single(server) => vec![server],
            RedisSubject::Cluster(cluster) => cluster.nodes().iter().collect(),
        };
        let mut keys = Vec::new();
        for node in nodes {
            let mut admin = node.admin();
            let names: Vec<Vec<u8>> = redis::cmd("KEYS")
                .arg(format!("{prefix}*"))
                .query(&mut admin)
                .expect("KEYS");
            for name in names {
                let expires: i64 = redis::cmd("PEXPIRETIME")
                    .arg(&name)
                    .query(&mut admin)
                    .expect("PEXPIRETIME");
                // -2: expired between KEYS and PEXPIRETIME.
                if expires != -2 {
                    keys.push((name, expires));
                }
            }
        }
        keys
    }

    /// Runs `cmd` where its key lives.
    pub fn run(&self, cmd: &redis::Cmd) -> redis::Value {
        match self {
            RedisSubject::Single(server) => {
                cmd.query(&mut server.admin()).expect("the command runs")
            }
            RedisSubject::Cluster(cluster) => {
                let client = redis::cluster::ClusterClient::new(cluster.urls()).expect("nodes");
                let mut connection = client.get_connection().expect("the test joins the cluster");
                cmd.query(&mut connection).expect("the command runs")
            }
        }
    }
}

/// A prefix no other store of this process has.
pub fn fresh_prefix(what: &str) -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    format!(
        "test-{}-{}-{what}:",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

impl Subject for RedisSubject {
    async fn open(&self, per_user: usize, instances: usize) -> Instances {
        let prefix = fresh_prefix("suite");
        self.open_on(&prefix, per_user, instances)
            .await
            .into_iter()
            .map(|store| store as Arc<dyn PendingChallengeStore>)
            .collect()
    }

    /// A `GET` then a `DEL` lets most racers through on every key: a few keys suffice.
    fn racing_keys(&self) -> usize {
        200
    }
}

/// The hash tag of the documented layout: 128 bits of SHA-256 of the user id, in hex.
pub fn tag(user_id: &str) -> String {
    Sha256::digest(user_id.as_bytes())[..16]
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// The name of the record under `key`, as the store's documentation gives it.
pub fn record_key(prefix: &str, key: &RecordKey) -> String {
    format!(
        "{prefix}{{{}}}:{}:{}",
        tag(&key.user_id),
        key.kind.as_str(),
        key.idempotency_key
    )
}

/// The name of a user's index of records, as documented.
pub fn index_key(prefix: &str, user_id: &str) -> String {
    format!("{prefix}{{{}}}:records", tag(user_id))
}

fn names(keys: &[(Vec<u8>, i64)]) -> Vec<String> {
    let mut names: Vec<String> = keys
        .iter()
        .map(|(name, _)| String::from_utf8(name.clone()).expect("UTF-8 key names"))
        .collect();
    names.sort();
    names
}

/// Keys are named as documented, all under the store's prefix; two prefixes on one
/// Redis are two stores.
pub async fn the_key_prefix_is_honoured(subject: &RedisSubject) {
    let (prefix_a, prefix_b) = (fresh_prefix("a"), fresh_prefix("b"));
    let a = &subject.open_on(&prefix_a, 10, 1).await[0];
    let b = &subject.open_on(&prefix_b, 10, 1).await[0];
    // A user id of this test alone, so that a search by its tag sees only our keys.
    let user = format!("{}:{{prefix}}", uuid::Uuid::new_v4());
    let keys = [
        challenge(&user, "c"),
        RecordKey::new(RecordKind::Resume, &user, "r"),
        RecordKey::new(RecordKind::Spent, &user, "s"),
    ];
    for key in &keys {
        put(&**a, key, TTL).await.unwrap();
        assert_eq!(b.take(key).await.unwrap(), None, "{key:?}");
    }
    let mut expected: Vec<String> = keys.iter().map(|key| record_key(&prefix_a, key)).collect();
    expected.push(index_key(&prefix_a, &user));
    expected.sort();
    assert_eq!(names(&subject.keys(&prefix_a)), expected);
    assert!(subject.keys(&prefix_b).is_empty());
    // Nothing of this user's anywhere but under the prefix.
    let everywhere = subject.keys("");
    let tagged: Vec<String> = names(&everywhere)
        .into_iter()
        .filter(|name| name.contains(&tag(&user)))
        .collect();
    assert_eq!(tagged, expected);
    // The same keys are free under the other prefix.
    put(&**b, &keys[0], TTL).await.unwrap();
}

/// After puts of every kind, refusals, takes and expiries, every key has a time to live,
/// and a user's index expires exactly when their last record of any kind does.
pub async fn every_key_has_a_ttl(subject: &RedisSubject) {
    let prefix = fresh_prefix("ttl");
    let store = &subject.open_on(&prefix, 5, 1).await[0];
    let users: Vec<&str> = AWKWARD_USERS.iter().copied().chain(["alice"]).collect();
    for user in &users {
        put(
            &**store,
            &challenge(user, "short"),
            Duration::from_millis(50),
        )
        .await
        .unwrap();
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    // Each user's five records, with the times to live they are put for.
    let held = |user: &str| {
        [
            (challenge(user, "c1"), Duration::from_secs(100)),
            (challenge(user, "c2"), TTL),
            (challenge(user, "c3"), Duration::from_secs(200)),
            (
                RecordKey::new(RecordKind::Resume, user, "done"),
                Duration::from_secs(150),
            ),
            (
                RecordKey::new(RecordKind::Spent, user, "done"),
                Duration::from_secs(50),
            ),
        ]
    };
    for user in &users {
        for (key, ttl) in held(user) {
            put(&**store, &key, ttl).await.unwrap();
        }
        let refused = put(&**store, &challenge(user, "c4"), TTL).await;
        assert!(
            matches!(refused, Err(StoreError::UserLimit { .. })),
            "{refused:?}"
        );
    }
    // Alice's longest record taken: her index must now expire with c3.
    store
        .take(&challenge("alice", "c2"))
        .await
        .unwrap()
        .unwrap();
    let keys = subject.keys(&prefix);
    // 5 users x (5 records + index), alice less one challenge.
    assert_eq!(keys.len(), users.len() * 6 - 1, "{:?}", names(&keys));
    for (name, expires) in &keys {
        assert!(
            *expires > 0,
            "{} has no time to live ({expires})",
            String::from_utf8_lossy(name)
        );
    }
    let expiry_of = |name: &str| {
        keys.iter()
            .find(|(key, _)| key == name.as_bytes())
            .map(|(_, expires)| *expires)
            .unwrap_or_else(|| panic!("{name} is missing"))
    };
    for user in &users {
        let last = held(user)
            .iter()
            .filter(|(key, _)| !(*user == "alice" && key.idempotency_key == "c2"))
            .map(|(key, _)| expiry_of(&record_key(&prefix, key)))
            .max()
            .unwrap();
        assert_eq!(expiry_of(&index_key(&prefix, user)), last, "{user:?}");
    }
    let c3 = expiry_of(&record_key(&prefix, &challenge("alice", "c3")));
    assert_eq!(expiry_of(&index_key(&prefix, "alice")), c3);
    // A user whose records are all taken leaves no index behind.
    for (key, _) in held("alice") {
        if key.idempotency_key != "c2" {
            store.take(&key).await.unwrap().unwrap();
        }
    }
    assert!(
        !names(&subject.keys(&prefix)).contains(&index_key(&prefix, "alice")),
        "alice's index outlived her records"
    );
}

/// The index names each record by its kind as well as its idempotency key: a take of one
/// kind frees that record's place only, not a record of another kind for the same action.
pub async fn the_index_tells_kinds_apart(subject: &RedisSubject) {
    let prefix = fresh_prefix("kinds");
    let store = &subject.open_on(&prefix, 2, 1).await[0];
    put(&**store, &challenge("alice", "k"), TTL).await.unwrap();
    let resume = RecordKey::new(RecordKind::Resume, "alice", "k");
    put(&**store, &resume, TTL).await.unwrap();
    // A take of a kind that is not there frees nothing.
    let spent = RecordKey::new(RecordKind::Spent, "alice", "k");
    assert_eq!(store.take(&spent).await.unwrap(), None);
    let refused = put(&**store, &challenge("alice", "k2"), TTL).await;
    assert!(
        matches!(refused, Err(StoreError::UserLimit { .. })),
        "{refused:?}"
    );
    let mut members: Vec<String> = redis::from_redis_value(
        subject.run(
            redis::cmd("ZRANGE")
                .arg(index_key(&prefix, "alice"))
                .arg(0)
                .arg(-1),
        ),
    )
    .expect("the index is a sorted set of names");
    members.sort();
    assert_eq!(members, ["challenge:k", "resume:k"]);
    assert!(
        store
            .take(&challenge("alice", "k"))
            .await
            .unwrap()
            .is_some()
    );
    put(&**store, &challenge("alice", "k2"), TTL).await.unwrap();
}

/// Bytes under a store key that are not a record fail closed, as a backend error.
pub async fn an_undecodable_record_is_a_backend_error(subject: &RedisSubject) {
    let prefix = fresh_prefix("corrupt");
    let store = &subject.open_on(&prefix, 10, 1).await[0];
    for kind in [RecordKind::Challenge, RecordKind::Spent] {
        let key = RecordKey::new(kind, "alice", "k");
        for garbage in [&b"\x02newer version"[..], b"", b"\x01\xff\xff\xff\xff"] {
            subject.run(
                redis::cmd("SET")
                    .arg(record_key(&prefix, &key))
                    .arg(garbage)
                    .arg("PX")
                    .arg(60_000),
            );
            let taken = store.take(&key).await;
            assert!(matches!(taken, Err(StoreError::Backend(_))), "{taken:?}");
        }
    }
}

/// The Redis-only tests, for `$subject` (an `Option<RedisSubject>`, `None` to skip).
#[macro_export]
macro_rules! redis_store_checks {
    ($subject:expr) => {
        $crate::redis_store_checks!(@tests $subject;
            the_key_prefix_is_honoured,
            every_key_has_a_ttl,
            the_index_tells_kinds_apart,
            an_undecodable_record_is_a_backend_error,
        );
    };
    (@tests $subject:expr; $($name:ident,)*) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let Some(subject) = $subject else { return };
                $crate::store_suite_redis::$name(&subject).await;
            }
        )*
    };
}
