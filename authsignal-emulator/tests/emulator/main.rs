//! The emulator through real HTTP: the Server API and its errors, the client API of custom
//! UIs, the pre-built UI, OTP sessions, session tokens and their JWKS, devices, webhooks,
//! faults and controls, and the `authsignal-emulator` program. One binary, so that the
//! crate links once.

mod emulator_util;

mod actions;
mod api_errors;
mod channels;
mod client_api;
mod client_otp;
mod controls;
mod devices;
mod faults;
mod otp_sessions;
mod passkeys;
mod program;
mod reviews;
mod scenario;
mod send_limits;
mod session_tokens;
mod ui;
mod ui_launch;
mod ui_methods;
mod ui_passkeys;
mod validate;
mod webhooks;
mod webhooks_synchronous;
