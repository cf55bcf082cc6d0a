//! The examples in headless Chromium: the gate's pages, two instances on Redis, and the
//! official Web SDK on the custom-UI example; and the WebDriver client's virtual
//! authenticator and windows on their own. Needs Debian's `chromium` and
//! `chromium-driver` (`.ci/browser-deps.sh`): without them each test says so and skips, and
//! with `CI` set it fails.

// The examples each include examples/common/demo.rs; compiled together here, it appears
// once per example.
#![allow(clippy::duplicate_mod)]

#[path = "../../examples/custom_ui.rs"]
#[allow(dead_code)]
mod custom_ui;
#[path = "../../examples/common/demo.rs"]
mod demo;
#[path = "../../axum-authsignal/tests/instances/instances_support/mod.rs"]
mod instances_support;
#[path = "../../axum-authsignal/tests/support/redis.rs"]
mod redis_support;
#[allow(dead_code)]
mod tls;
mod webdriver;
#[path = "../../examples/withdrawal.rs"]
#[allow(dead_code)]
mod withdrawal;
#[path = "../../examples/common/withdrawals.rs"]
mod withdrawals;

mod gate_pages;
mod instances;
mod launch_modes;
mod passkeys;
mod prebuilt_passkey;
mod review;
mod virtual_authenticator;
mod web_sdk;
mod web_sdk_channels;
