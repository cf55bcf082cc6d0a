//! The emulator through real HTTP: the Server API and its errors, the client API of custom
//! UIs, the pre-built UI, OTP sessions, devices, webhooks, faults and controls, and the
//! `authsignal-emulator` program. One binary, so that the crate links once.

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
mod reviews;
mod scenario;
mod ui;
mod ui_methods;
mod validate;
mod webhooks;
