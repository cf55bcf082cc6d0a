//! TODO

#[path = "../../examples/axum_login.rs"]
#[allow(dead_code)]
mod axum_login_example;
#[allow(dead_code)]
mod browser_session;
#[path = "../../examples/common/demo.rs"]
#[allow(dead_code)]
mod demo;
#[path = "../../authsignal-emulator/tests/emulator/emulator_util.rs"]
#[allow(dead_code)]
mod emulator_util;
#[path = "../../examples/login.rs"]
#[allow(dead_code)]
mod login;
#[path = "../../examples/payment_api.rs"]
#[allow(dead_code)]
mod payment_api;
#[path = "../../examples/webhooks.rs"]
#[allow(dead_code)]
mod webhooks;
#[path = "../../examples/withdrawal.rs"]
#[allow(dead_code)]
mod withdrawal;

mod axum_login;
mod flows;
mod qr;
mod serving;
mod webhook_events;
