//! [`WebhookVerifier`]: the secrets and limits, `verify` and the `construct*` methods.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use secrecy::SecretString;
use serde::de::DeserializeOwned;

use super::event::decode;
use super::{
    DEFAULT_BODY_LIMIT, DEFAULT_TOLERANCE, LogEventBatch, WebhookError, WebhookEvent,
    WebhookPayload,
};

/// Checks `X-Signature-V2` headers against webhook bodies.
///
/// Cheap to clone (the secrets are shared), so it can live in the Axum state. Its `Debug`
/// shows how many secrets it holds, never the secrets.
///
/// ```
/// use std::time::Duration;
/// use authsignal::webhook::WebhookVerifier;
///
/// // During a rotation on our side, accept both the new and the old secret.
/// let verifier = WebhookVerifier::new("new-secret")
///     .with_secret("old-secret")
///     .with_tolerance(Duration::from_secs(120));
/// assert_eq!(verifier.tolerance(), Some(Duration::from_secs(120)));
/// let debug = format!("{verifier:?}");
/// assert!(!debug.contains("new-secret") && !debug.contains("old-secret"), "{debug}");
/// ```
#[derive(Clone)]
#[must_use]
pub struct WebhookVerifier {
    pub(super) secrets: Arc<Vec<SecretString>>,
    pub(super) tolerance: Option<Duration>,
    pub(super) body_limit: usize,
}

impl WebhookVerifier {
    /// A verifier for webhooks signed with `secret`, with the [`DEFAULT_TOLERANCE`] and the
    /// [`DEFAULT_BODY_LIMIT`].
    ///
    /// An empty secret never verifies anything: an unset environment variable must not
    /// turn into a key that anyone can sign with.
    pub fn new(secret: impl Into<SecretString>) -> Self {
        Self {
            secrets: Arc::new(vec![secret.into()]),
            tolerance: Some(DEFAULT_TOLERANCE),
            body_limit: DEFAULT_BODY_LIMIT,
        }
    }

    /// Also accepts signatures made with `secret`, e.g. the old secret while a rotation is
    /// under way. A signature made with any of the secrets passes.
    pub fn with_secret(mut self, secret: impl Into<SecretString>) -> Self {
        Arc::make_mut(&mut self.secrets).push(secret.into());
        self
    }

    /// How far the signature's timestamp may be from now, in either direction. A captured
    /// request verifies again for as long as its timestamp is this close to now; a
    /// [`ReplayGuard`](super::ReplayGuard) made after this call keeps event ids that long.
    /// `Duration::ZERO` disables the check, like a tolerance `<= 0` in the official SDKs.
    pub fn with_tolerance(mut self, tolerance: Duration) -> Self {
        self.tolerance = (!tolerance.is_zero()).then_some(tolerance);
        self
    }

    /// Accepts any timestamp. Only for replaying recorded requests in tests: without the
    /// check, a captured request can be replayed forever.
    pub fn without_tolerance(mut self) -> Self {
        self.tolerance = None;
        self
    }

    /// The largest body, in bytes, that an extractor reads (`axum-authsignal`'s `VerifiedWebhook`);
    /// larger bodies are rejected with `413 Payload Too Large`.
    pub fn with_body_limit(mut self, bytes: usize) -> Self {
        self.body_limit = bytes;
        self
    }

    /// The timestamp tolerance, or `None` when the check is disabled.
    #[must_use]
    pub fn tolerance(&self) -> Option<Duration> {
        self.tolerance
    }

    /// The body limit an extractor applies, in bytes.
    #[must_use]
    pub fn body_limit(&self) -> usize {
        self.body_limit
    }

    /// Checks `header` (the `X-Signature-V2` value, as `&str` or `&HeaderValue`) against the
    /// raw `body`, at the current time.
    pub fn verify(
        &self,
        header: impl AsRef<[u8]>,
        body: impl AsRef<[u8]>,
    ) -> Result<(), WebhookError> {
        self.verify_at(header, body, SystemTime::now())
    }

    /// [`verify`](Self::verify) as if the time were `now`, for deterministic tests.
    ///
    /// The checks run in this order, so the error says what failed first: the header's
    /// format, then the timestamp, then the signature.
    pub fn verify_at(
        &self,
        header: impl AsRef<[u8]>,
        body: impl AsRef<[u8]>,
        now: SystemTime,
    ) -> Result<(), WebhookError> {
        let parsed = self.check_header(header.as_ref(), now)?;
        self.check_signature(&parsed, body.as_ref())
    }

    /// Verifies, then decodes the body as a single [`WebhookEvent`]. A batch of log events
    /// is rejected with [`WebhookError::LogEventBatch`].
    pub fn construct_event(
        &self,
        header: impl AsRef<[u8]>,
        body: impl AsRef<[u8]>,
    ) -> Result<WebhookEvent, WebhookError> {
        match self.construct(header, body)? {
            WebhookPayload::Event(event) => Ok(event),
            WebhookPayload::LogEventBatch(_) => Err(WebhookError::LogEventBatch),
        }
    }

    /// Verifies, then decodes the body as a [`LogEventBatch`] (`{"records":[...]}`).
    pub fn construct_log_event_batch(
        &self,
        header: impl AsRef<[u8]>,
        body: impl AsRef<[u8]>,
    ) -> Result<LogEventBatch, WebhookError> {
        self.construct(header, body)
    }

    /// Verifies, then decodes the body as whichever it is: an event or a log batch.
    pub fn construct_payload(
        &self,
        header: impl AsRef<[u8]>,
        body: impl AsRef<[u8]>,
    ) -> Result<WebhookPayload, WebhookError> {
        self.construct(header, body)
    }

    /// Verifies, then decodes the body as any `T`. The body is not even parsed unless the
    /// signature is good.
    pub fn construct<T: DeserializeOwned>(
        &self,
        header: impl AsRef<[u8]>,
        body: impl AsRef<[u8]>,
    ) -> Result<T, WebhookError> {
        self.construct_at(header, body, SystemTime::now())
    }

    /// [`construct`](Self::construct) as if the time were `now`, for deterministic tests.
    pub fn construct_at<T: DeserializeOwned>(
        &self,
        header: impl AsRef<[u8]>,
        body: impl AsRef<[u8]>,
        now: SystemTime,
    ) -> Result<T, WebhookError> {
        let body = body.as_ref();
        self.verify_at(header, body, now)?;
        decode(body)
    }
}

impl fmt::Debug for WebhookVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookVerifier")
            .field(
                "secrets",
                &format_args!("[redacted; {}]", self.secrets.len()),
            )
            .field("tolerance", &self.tolerance)
            .field("body_limit", &self.body_limit)
            .finish()
    }
}
