//! TODO

#[path = "instances_support/mod.rs"]
#[allow(dead_code)]
mod instances_support;
#[path = "../support/redis.rs"]
#[allow(dead_code)]
mod redis_support;

mod bounds;
mod faults;
mod sharing;
