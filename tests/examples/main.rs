//! Each example's flow, driven through the example's own router over real HTTP, and the
//! emulator's QR codes as the demos show them.

// The examples each include examples/common/demo.rs; compiled together here, it appears
// once per example.
#![allow(clippy::duplicate_mod)]

#[path = "../../examples/axum_login/main.rs"]
#[allow(dead_code)]
mod axum_login_example;
#[allow(dead_code)]
mod browser_session;
#[path = "../../examples/common/demo.rs"]
mod demo;
#[path = "../../authsignal-emulator/tests/emulator/emulator_util.rs"]
mod emulator_util;
#[path = "../../examples/login.rs"]
#[allow(dead_code)]
mod login;
#[path = "../../examples/payment_api/main.rs"]
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
