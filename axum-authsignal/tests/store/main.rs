//! The stores: the conformance suite against `MemoryStore`, `RedisStore` on one server and
//! on Redis Cluster, the Redis keys' checks, and Redis faults.

#[path = "../support/redis.rs"]
mod redis_support;
#[macro_use]
mod store_suite;
#[macro_use]
mod store_suite_redis;

mod memory;
mod on_redis;
mod on_redis_cluster;
mod redis_faults;
