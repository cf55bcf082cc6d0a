//! # axum-authsignal
//!
//! [Authsignal](https://www.authsignal.com) step-up MFA in front of sensitive
//! [Axum](https://docs.rs/axum) routes.
//!
//! - [`step_up`]: configured once in a [`StepUpConfig`](step_up::StepUpConfig), a
//!   [`StepUpLayer`](step_up::StepUpLayer) tracks an Authsignal action per
//!   route and answers `CHALLENGE_REQUIRED` with a redirect to the pre-built UI (browsers)
//!   or a 401 with a challenge token (API clients); on the way back it validates the token
//!   server-side, bound to the user, the action and the very request that was challenged,
//!   and lets it through once. [`StepUp`](step_up::StepUp) gives the handler the proof;
//!   [`SignIn`](step_up::SignIn) covers sign-in, where the user is known only after the
//!   password check.
//! - [`Authsignal`]: a typed async client for the whole Server API, with time bounds on
//!   every call, retries only where repeating is safe, percent-encoded paths, one
//!   [`Error`] type, and a secret key that never reaches `Debug`, errors or logs.
//! - [`store`]: where pending challenges wait between the two legs (in memory by default).
//! - [`webhook`]: `X-Signature-V2` verification and an Axum extractor for webhook events.
//! - `emulator` (feature `emulator`): a local Authsignal for examples and tests.
//!
//! ```
//! use axum::{Router, routing::post};
//! use axum_authsignal::{Authsignal, Region, step_up::{StepUp, StepUpConfig}};
//!
//! async fn withdraw(step_up: StepUp) -> String {
//!     format!("withdrawal by {}", step_up.user_id())
//! }
//!
//! let client = Authsignal::builder()
//!     .secret_key("your-tenant-secret")
//!     .region(Region::Eu)
//!     .build()
//!     .expect("a secret key is set");
//! // The secret stays out of debug output.
//! assert!(!format!("{client:?}").contains("your-tenant-secret"));
//!
//! let step_up = StepUpConfig::new(client);
//! let app: Router = Router::new().route(
//!     "/withdraw",
//!     post(withdraw).layer(step_up.gate("withdraw").custom_from_body(["amount"])),
//! );
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs, missing_debug_implementations)]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod client;
#[cfg(feature = "emulator")]
#[cfg_attr(docsrs, doc(cfg(feature = "emulator")))]
pub mod emulator;
mod safe_text;
pub mod step_up;
pub mod store;
pub mod webhook;

pub use client::types::*;
pub use client::{
    ApiError, Authsignal, AuthsignalBuilder, ConfigError, DecodeError, Error, Region, Result,
    RetryPolicy,
};

/// The README's Rust examples, compiled as doc tests so that they stay true.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
