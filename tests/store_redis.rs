//! The store conformance suite (`tests/store_suite/`) against `RedisStore` on a real
//! `redis-server` that this test binary starts (`tests/redis_support/`), and the checks
//! of its keys (`tests/store_suite_redis/`). Skips without redis-server, fails in CI.

mod redis_support;
mod store_suite;
mod store_suite_redis;

use store_suite_redis::RedisSubject;

fn subject() -> Option<RedisSubject> {
    redis_support::shared().map(RedisSubject::Single)
}

store_conformance!(subject());
redis_store_checks!(subject());
