//! The store conformance suite (`store::suite`) against `RedisStore` on a real
//! `redis-server` that this test binary starts (`tests/redis_support/`), and the checks
//! of its keys (`tests/store_suite_redis/`). Skips without redis-server, fails in CI.

use crate::redis_support;

use crate::store_suite_redis::RedisSubject;

fn subject() -> Option<RedisSubject> {
    redis_support::shared().map(RedisSubject::Single)
}

store_conformance!(subject());
redis_store_checks!(subject());
