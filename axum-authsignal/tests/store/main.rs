//! TODO

#[path = "../support/redis.rs"]
#[allow(dead_code)]
mod redis_support;
#[allow(dead_code)]
#[macro_use]
mod store_suite;
#[allow(dead_code)]
#[macro_use]
mod store_suite_redis;

mod memory;
mod on_redis;
mod on_redis_cluster;
mod redis_faults;
