//! # axum-authsignal
//!
//! [Authsignal](https://www.authsignal.com) step-up MFA in front of sensitive
//! [Axum](https://docs.rs/axum) routes.
//!
//! - The gate: configured once in a [`StepUpConfig`], a [`StepUpLayer`] tracks an Authsignal action per
//!   route and answers `CHALLENGE_REQUIRED` with a redirect to the pre-built UI (browsers)
//!   or a 401 with a challenge token (API clients); on the way back it validates the token
//!   server-side, bound to the user, the action and the very request that was challenged,
//!   and lets it through once. [`StepUp`] gives the handler the proof;
//!   [`SignIn`] covers sign-in, where the user is known only after the
//!   password check.
//! - [`authsignal`] (re-exported): the typed async client of the whole Server API
//!   ([`Authsignal`]), its wire types ([`authsignal::types`]) and webhook signature
//!   verification, with no web framework.
//! - [`store`]: where pending challenges wait between the two legs (in memory by default).
//! - [`webhook`]: an Axum extractor for webhook events, verified with
//!   [`authsignal::webhook`].
//!
//! The local Authsignal the examples and tests run against is the `authsignal-emulator`
//! crate.
//!
//! ```
//! use axum::{Router, routing::post};
//! use axum_authsignal::authsignal::{Authsignal, Region};
//! use axum_authsignal::{StepUp, StepUpConfig};
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

mod step_up;
pub mod store;
pub mod webhook;

pub use authsignal::{self, Authsignal};
pub use step_up::*;

/// The README's Rust examples, compiled as doc tests so that they stay true.
#[doc = include_str!("../../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
