//! # authsignal
//!
//! A typed async client of the [Authsignal](https://www.authsignal.com) Server API, and
//! verification of Authsignal's webhook signatures. No web framework: the step-up gate
//! for Axum is the `axum-authsignal` crate, built on this one.
//!
//! - [`Authsignal`]: the client. Every call is bounded in time, retried only where
//!   repeating it is safe, sent to a percent-encoded path, and fails with one [`Error`]
//!   type; the secret key never reaches `Debug`, errors or logs.
//! - [`types`]: the requests and answers of the Server API, as on the wire.
//! - [`webhook`]: `X-Signature-V2` verification, the events' types and a replay guard.
//!
//! The package is `async-authsignal`; the library is `authsignal`.
//!
//! [`Authsignal`] is cheap to clone: every clone shares one connection pool and one
//! configuration. Build it once at start-up ([`Authsignal::builder`] or
//! [`Authsignal::from_env`]) and hand clones to whatever needs it.

#![forbid(unsafe_code)]
#![deny(missing_docs, missing_debug_implementations)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod config;
mod error;
mod operations;
mod path;
mod retry;
pub mod safe_text;
mod transport;
pub mod types;
pub mod webhook;

use std::sync::Arc;
use std::time::Duration;

use http::HeaderValue;

pub use config::{
    AuthsignalBuilder, DEFAULT_ATTEMPT_TIMEOUT, DEFAULT_CONNECT_TIMEOUT, DEFAULT_DEADLINE,
    ENV_API_URL, ENV_SECRET_KEY, Region,
};
pub use error::{ApiError, ConfigError, DecodeError, Error, Result};
pub use retry::RetryPolicy;

/// A client of the Authsignal Server API.
///
/// Every call is bounded in time (see [`AuthsignalBuilder`] for the defaults), retried only
/// where repeating it is safe, and fails with one [`Error`] type. The secret key is never
/// shown by `Debug` or in any error.
///
/// ```no_run
/// use authsignal::Authsignal;
/// use authsignal::types::{TrackAttributes, UserActionState};
///
/// # async fn run() -> Result<(), authsignal::Error> {
/// let client = Authsignal::from_env()?; // AUTHSIGNAL_SECRET_KEY, AUTHSIGNAL_API_URL
/// let tracked = client
///     .track("user-1", "withdraw", TrackAttributes::default())
///     .await?;
/// if tracked.state == UserActionState::ChallengeRequired {
///     println!("send the user to {:?}", tracked.url);
/// }
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct Authsignal {
    inner: Arc<Inner>,
}

pub(crate) struct Inner {
    http: reqwest::Client,
    base_url: String,
    authorization: HeaderValue,
    attempt_timeout: Duration,
    deadline: Duration,
    retry: RetryPolicy,
    /// [`max_connections`](AuthsignalBuilder::max_connections), and one permit per call
    /// in flight under it.
    max_connections: Option<usize>,
    slots: Option<tokio::sync::Semaphore>,
}

impl Authsignal {
    /// A builder with the defaults; only the secret key must be set.
    pub fn builder() -> AuthsignalBuilder {
        AuthsignalBuilder::new()
    }

    /// A client for the US region with the default settings.
    pub fn new(secret_key: impl Into<String>) -> Result<Self> {
        Ok(Self::builder().secret_key(secret_key).build()?)
    }

    /// A client from `AUTHSIGNAL_SECRET_KEY` and, if set, `AUTHSIGNAL_API_URL`.
    /// A missing or empty key is a [`ConfigError::MissingSecret`].
    pub fn from_env() -> Result<Self> {
        Ok(AuthsignalBuilder::from_env().build()?)
    }

    /// The base URL calls go to, without a trailing slash.
    pub fn base_url(&self) -> &str {
        &self.inner.base_url
    }

    fn from_inner(inner: Inner) -> Self {
        Self {
            inner: Arc::new(inner),
        }
    }
}

impl std::fmt::Debug for Authsignal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authsignal")
            .field("base_url", &self.inner.base_url)
            .field("secret_key", &"[redacted]")
            .field("attempt_timeout", &self.inner.attempt_timeout)
            .field("deadline", &self.inner.deadline)
            .field("retry", &self.inner.retry)
            .field("max_connections", &self.inner.max_connections)
            .finish()
    }
}

/// The crate's README examples, compiled as doc tests so that they stay true.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
