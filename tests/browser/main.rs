//! TODO

#[path = "../../examples/custom_ui.rs"]
#[allow(dead_code)]
mod custom_ui;
#[path = "../../examples/common/demo.rs"]
#[allow(dead_code)]
mod demo;
#[path = "../../axum-authsignal/tests/instances/instances_support/mod.rs"]
#[allow(dead_code)]
mod instances_support;
#[path = "../../axum-authsignal/tests/support/redis.rs"]
#[allow(dead_code)]
mod redis_support;
#[allow(dead_code)]
mod tls;
#[allow(dead_code)]
mod webdriver;
#[path = "../../examples/withdrawal.rs"]
#[allow(dead_code)]
mod withdrawal;
#[path = "../../examples/common/withdrawals.rs"]
#[allow(dead_code)]
mod withdrawals;

mod gate_pages;
mod instances;
mod web_sdk;
