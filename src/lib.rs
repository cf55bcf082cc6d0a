//! # axum-authsignal
//!
//! [Authsignal](https://www.authsignal.com) step-up MFA for [Axum](https://docs.rs/axum).
//!
//! This release provides the foundation the step-up gate stands on:
//!
//! - [`Authsignal`]: a typed async client for the whole Authsignal Server API, with time
//!   bounds on every call, retries only where repeating is safe, percent-encoded paths,
//!   one [`Error`] type, and a secret key that never reaches `Debug`, errors or logs.
//! - [`webhook`]: `X-Signature-V2` verification and an Axum extractor for webhook events.
//!
//! ```
//! use axum_authsignal::{Authsignal, Region};
//!
//! let client = Authsignal::builder()
//!     .secret_key("your-tenant-secret")
//!     .region(Region::Eu)
//!     .build()
//!     .expect("a secret key is set");
//! assert_eq!(client.base_url(), "https://eu.api.authsignal.com/v1");
//! // The secret stays out of debug output.
//! assert!(!format!("{client:?}").contains("your-tenant-secret"));
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs, missing_debug_implementations)]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod client;
#[cfg(feature = "emulator")]
#[cfg_attr(docsrs, doc(cfg(feature = "emulator")))]
pub mod emulator;
pub mod step_up;
pub mod store;
pub mod webhook;

pub use client::types::*;
pub use client::{
    ApiError, Authsignal, AuthsignalBuilder, ConfigError, DecodeError, Error, Region, Result,
    RetryPolicy,
};
