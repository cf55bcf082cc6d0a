//! TODO

#[allow(dead_code)]
mod emulator_util;

mod actions;
mod api_errors;
mod client_api;
mod client_otp;
mod controls;
mod devices;
mod faults;
mod otp_sessions;
mod program;
mod scenario;
mod ui;
mod ui_methods;
mod validate;
mod webhooks;
