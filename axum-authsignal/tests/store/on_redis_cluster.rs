//! The store conformance suite (`store::suite`) and the checks of its keys against
//! `RedisStore` on a three-master Redis Cluster that this test binary starts
//! (`redis-server --cluster-enabled yes` three times, then `redis-cli --cluster create`).
//! Every script touches two keys of one user: on a cluster it runs only because both
//! share the user's hash slot. Skips without redis-server, fails in CI.

use crate::redis_support;
use crate::store_suite_redis;
use axum_authsignal::store::suite as store_suite;

use crate::store_suite_redis::RedisSubject;

fn subject() -> Option<RedisSubject> {
    redis_support::shared_cluster().map(RedisSubject::Cluster)
}

store_conformance!(subject());
redis_store_checks!(subject());

/// The suite means something on a cluster only if users land on different masters:
/// twenty users' challenges are spread over all three.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_are_spread_over_every_master() {
    let Some(cluster) = redis_support::shared_cluster() else {
        return;
    };
    let subject = RedisSubject::Cluster(cluster);
    let prefix = store_suite_redis::fresh_prefix("spread");
    let store = &subject.open_on(&prefix, 10, 1).await[0];
    for n in 0..20 {
        let key = store_suite::challenge(&format!("user-{n}"), "k");
        store_suite::put(&**store, &key, store_suite::TTL)
            .await
            .unwrap();
    }
    for node in cluster.nodes() {
        let keys: Vec<String> = redis::cmd("KEYS")
            .arg(format!("{prefix}*"))
            .query(&mut node.admin())
            .unwrap();
        assert!(!keys.is_empty(), "no user's keys on node {}", node.port());
        // A user's record and index sit together on the node that holds their slot.
        assert_eq!(keys.len() % 2, 0, "{keys:?}");
    }
}
