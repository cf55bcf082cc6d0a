//! Two instances of one app sharing one Redis and one emulator: a token is good once
//! across them, a held review runs once across them, bounds hold on Redis, and Redis
//! faults fail closed. Skips without
//! redis-server, fails in CI.

#[path = "instances_support/mod.rs"]
mod instances_support;
#[path = "../support/redis.rs"]
mod redis_support;

mod bounds;
mod faults;
mod review;
mod sharing;
