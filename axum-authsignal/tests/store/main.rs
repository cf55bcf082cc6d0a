//! The stores: the conformance suite against every store of this crate, the checks only
//! Redis needs, Redis failing, and the stored format (golden files, old records refused).

// Each of these allows dead code itself: the tests use a part of each.
#[path = "../support/redis.rs"]
mod redis_support;
#[macro_use]
mod store_suite;
#[macro_use]
mod store_suite_redis;

// The instances suite's two instances, emulator and proxy, for the gate's end-to-end
// checks of unreadable records.
#[path = "../instances/instances_support/mod.rs"]
mod instances_support;

mod golden;
mod memory;
mod on_redis;
mod on_redis_cluster;
mod redis_faults;
mod unreadable_records;
