//! Authsignal webhooks: `X-Signature-V2` verification and an Axum extractor.
//!
//! Authsignal signs every webhook request with the tenant's secret and sends the signature
//! in a header:
//!
//! ```text
//! X-Signature-V2: t=<unix seconds>,v2=<signature>[,v2=<signature>...]
//! ```
//!
//! where `signature` is the standard base64 (without `=` padding) of
//! HMAC-SHA256(key = secret, message = `"<t>.<raw body>"`). During a key rotation the header
//! carries several `v2` values; any one that matches is enough.
//!
//! [`WebhookVerifier`] checks that header against the *raw* body bytes (re-serialized JSON
//! would not match), rejects timestamps outside a tolerance (5 minutes by default, in the
//! past or the future) so captured requests cannot be replayed later, and compares in
//! constant time. [`VerifiedWebhook`] does the same as an Axum extractor, before the body is
//! deserialized.
//!
//! ```
//! use axum_authsignal::webhook::{WebhookEvent, WebhookVerifier};
//! use base64::Engine;
//! use hmac::{Hmac, KeyInit, Mac};
//!
//! let verifier = WebhookVerifier::new("your-webhook-secret");
//!
//! // What Authsignal does: sign "<t>.<raw body>" and send the signature in a header.
//! let body = br#"{"version":1,"type":"email.created","id":"evt-1","source":"https://authsignal.com",
//!     "time":"2025-02-20T01:51:56.070Z","tenantId":"tenant-1","data":{"code":"157743"}}"#;
//! let t = std::time::SystemTime::now()
//!     .duration_since(std::time::UNIX_EPOCH)
//!     .unwrap()
//!     .as_secs();
//! let mut mac = Hmac::<sha2::Sha256>::new_from_slice(b"your-webhook-secret").unwrap();
//! mac.update(format!("{t}.").as_bytes());
//! mac.update(body);
//! let signature = base64::engine::general_purpose::STANDARD_NO_PAD
//!     .encode(mac.finalize().into_bytes());
//! let header = format!("t={t},v2={signature}");
//!
//! // What the receiver does.
//! verifier.verify(&header, body).expect("authentic");
//! let event: WebhookEvent = verifier.construct_event(&header, body).expect("authentic");
//! assert_eq!(event.event_type, "email.created");
//! assert_eq!(event.data["code"], "157743");
//!
//! // One changed byte, and it no longer verifies.
//! let mut tampered = body.to_vec();
//! tampered[1] = b' ';
//! let err = verifier.verify(&header, &tampered).unwrap_err();
//! assert_eq!(err.to_string(), "Signature mismatch.");
//! ```
//!
//! On a router, the verifier comes from the state (anything `WebhookVerifier: FromRef<S>`):
//!
//! ```
//! use axum::{Router, extract::FromRef, routing::post};
//! use axum_authsignal::webhook::{
//!     SIGNATURE_HEADER, VerifiedWebhook, WebhookPayload, WebhookVerifier, signature_header,
//! };
//! use tower::ServiceExt;
//!
//! #[derive(Clone)]
//! struct AppState {
//!     webhooks: WebhookVerifier,
//! }
//!
//! impl FromRef<AppState> for WebhookVerifier {
//!     fn from_ref(state: &AppState) -> Self {
//!         state.webhooks.clone()
//!     }
//! }
//!
//! async fn on_webhook(VerifiedWebhook(payload): VerifiedWebhook) -> &'static str {
//!     // Runs only for authentic requests.
//!     match payload {
//!         WebhookPayload::Event(event) => println!("{} {}", event.event_type, event.id),
//!         WebhookPayload::LogEventBatch(batch) => println!("{} log events", batch.records.len()),
//!         _ => {}
//!     }
//!     "ok"
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let state = AppState { webhooks: WebhookVerifier::new("your-webhook-secret") };
//! let app = Router::new().route("/webhooks/authsignal", post(on_webhook)).with_state(state);
//!
//! let body = r#"{"version":1,"type":"sms.created","id":"evt-2","source":"https://authsignal.com",
//!     "time":"2025-02-20T01:51:56.070Z","tenantId":"tenant-1","data":{}}"#;
//! let now = std::time::SystemTime::now()
//!     .duration_since(std::time::UNIX_EPOCH)
//!     .unwrap()
//!     .as_secs();
//! let request = |header: &str| {
//!     http::Request::post("/webhooks/authsignal")
//!         .header(SIGNATURE_HEADER, header)
//!         .body(axum::body::Body::from(body))
//!         .unwrap()
//! };
//!
//! let signed = signature_header("your-webhook-secret", now, body);
//! let response = app.clone().oneshot(request(&signed)).await.unwrap();
//! assert_eq!(response.status(), 200);
//!
//! let forged = signature_header("guessed-secret", now, body);
//! let response = app.oneshot(request(&forged)).await.unwrap();
//! assert_eq!(response.status(), 400);
//! # }
//! ```

use std::fmt;
use std::future::poll_fn;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Json;
use axum::body::{Body, HttpBody};
use axum::extract::{FromRef, FromRequest, Request};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD_NO_PAD;
use bytes::{Bytes, BytesMut};
use hmac::{Hmac, KeyInit, Mac};
use http::{HeaderName, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize};
use sha2::Sha256;

/// The header Authsignal puts the signature in (`X-Signature-V2`).
pub const SIGNATURE_HEADER: HeaderName = HeaderName::from_static("x-signature-v2");

/// How far a signature's timestamp may be from now, by default: 5 minutes, as in the
/// official SDKs.
pub const DEFAULT_TOLERANCE: Duration = Duration::from_secs(5 * 60);

/// The largest body [`VerifiedWebhook`] reads, by default: 256 KiB. Authsignal's events are
/// a few hundred bytes; the bound keeps a hostile client from making us buffer and hash
/// arbitrarily much before the signature is known to be bad.
pub const DEFAULT_BODY_LIMIT: usize = 256 * 1024;

/// The most `v2` values a header may carry. Authsignal sends one, or two during a key
/// rotation; a header with more is rejected as malformed, so a hostile header cannot make
/// the verifier do unbounded work.
pub const MAX_SIGNATURES: usize = 8;

/// Headers longer than this are malformed without looking further: [`MAX_SIGNATURES`]
/// signatures and a timestamp fit many times over.
const MAX_HEADER_BYTES: usize = 4096;

/// A base64 HMAC-SHA256 is 43 characters (44 padded); anything much longer cannot match,
/// so it is not even decoded.
const MAX_SIGNATURE_CHARS: usize = 64;

type HmacSha256 = Hmac<Sha256>;

/// Checks `X-Signature-V2` headers against webhook bodies.
///
/// Cheap to clone (the secrets are shared), so it can live in the Axum state. Its `Debug`
/// shows how many secrets it holds, never the secrets.
///
/// ```
/// use std::time::Duration;
/// use axum_authsignal::webhook::WebhookVerifier;
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
    secrets: Arc<Vec<SecretString>>,
    tolerance: Option<Duration>,
    body_limit: usize,
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

    /// How far the signature's timestamp may be from now, in either direction.
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

    /// The largest body, in bytes, that [`VerifiedWebhook`] reads; larger bodies are
    /// rejected with `413 Payload Too Large`.
    pub fn with_body_limit(mut self, bytes: usize) -> Self {
        self.body_limit = bytes;
        self
    }

    /// The timestamp tolerance, or `None` when the check is disabled.
    #[must_use]
    pub fn tolerance(&self) -> Option<Duration> {
        self.tolerance
    }

    /// The body limit of [`VerifiedWebhook`], in bytes.
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

    /// The format and timestamp checks, which need no body: the extractor runs them before
    /// reading it.
    fn check_header<'h>(
        &self,
        header: &'h [u8],
        now: SystemTime,
    ) -> Result<Parsed<'h>, WebhookError> {
        let parsed = parse_header(header)?;
        if let Some(tolerance) = self.tolerance {
            // A clock before 1970 is as good as 0: the timestamp is then simply far off.
            let now = now
                .duration_since(UNIX_EPOCH)
                .map_or(0, |since| since.as_secs());
            if Duration::from_secs(now.abs_diff(parsed.timestamp)) > tolerance {
                return Err(WebhookError::OutsideTolerance);
            }
        }
        Ok(parsed)
    }

    fn check_signature(&self, parsed: &Parsed<'_>, body: &[u8]) -> Result<(), WebhookError> {
        // A signature that is not base64 of the right length cannot match: no HMAC needed.
        let candidates: Vec<Vec<u8>> = parsed
            .signatures
            .iter()
            .filter_map(|s| decode_signature(s))
            .collect();
        if candidates.is_empty() {
            return Err(WebhookError::Mismatch);
        }
        let timestamp = parsed.timestamp.to_string();
        for secret in self.secrets.iter() {
            let Some(mac) = mac_for(secret.expose_secret(), &timestamp, body) else {
                continue;
            };
            // `verify_slice` compares in constant time and insists on the full 32 bytes (a
            // truncated comparison would let a 1-byte guess through).
            if candidates
                .iter()
                .any(|candidate| mac.clone().verify_slice(candidate).is_ok())
            {
                return Ok(());
            }
        }
        Err(WebhookError::Mismatch)
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

/// The `X-Signature-V2` value Authsignal would send for `body` signed with `secret` at
/// `timestamp` (unix seconds), e.g. to test your own webhook handler or to send webhooks
/// from an emulator.
///
/// ```
/// use axum_authsignal::webhook::{WebhookVerifier, signature_header};
/// let header = signature_header("test-secret-key-123", 1_630_000_000, "{}");
/// assert!(header.starts_with("t=1630000000,v2="));
/// WebhookVerifier::new("test-secret-key-123")
///     .without_tolerance()
///     .verify(&header, "{}")
///     .expect("signed with the same secret");
/// ```
#[must_use]
pub fn signature_header(secret: &str, timestamp: u64, body: impl AsRef<[u8]>) -> String {
    let signature = mac_for(secret, &timestamp.to_string(), body.as_ref())
        .map(|mac| STANDARD_NO_PAD.encode(mac.finalize().into_bytes()))
        .unwrap_or_default();
    format!("t={timestamp},v2={signature}")
}

/// HMAC-SHA256 over `"<timestamp>.<body>"`, or `None` for an empty secret.
fn mac_for(secret: &str, timestamp: &str, body: &[u8]) -> Option<HmacSha256> {
    if secret.is_empty() {
        return None;
    }
    // HMAC takes keys of any length, so this cannot fail; `ok()` keeps the path panic-free.
    let mut mac = HmacSha256::new_from_slice(secret.as_bytes()).ok()?;
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    Some(mac)
}

/// A header that has the right shape.
struct Parsed<'h> {
    timestamp: u64,
    signatures: Vec<&'h str>,
}

/// Parses `t=<digits>,v2=<sig>[,v2=<sig>...]`. Total: every input is either parsed or
/// [`WebhookError::InvalidFormat`]. Unknown keys (a future `v3=`) are ignored, as the SDKs
/// do; a second `t`, a non-numeric or signed `t`, or more than [`MAX_SIGNATURES`] `v2`
/// values make the header malformed.
fn parse_header(header: &[u8]) -> Result<Parsed<'_>, WebhookError> {
    if header.len() > MAX_HEADER_BYTES {
        return Err(WebhookError::InvalidFormat);
    }
    let header = std::str::from_utf8(header).map_err(|_| WebhookError::InvalidFormat)?;
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        let Some((key, value)) = part.split_once('=') else {
            continue;
        };
        let value = value.trim();
        match key.trim() {
            "t" => {
                if timestamp.is_some() {
                    return Err(WebhookError::InvalidFormat);
                }
                timestamp = Some(parse_timestamp(value)?);
            }
            "v2" => {
                if signatures.len() == MAX_SIGNATURES {
                    return Err(WebhookError::InvalidFormat);
                }
                signatures.push(value);
            }
            _ => {}
        }
    }
    match (timestamp, signatures.is_empty()) {
        (Some(timestamp), false) => Ok(Parsed {
            timestamp,
            signatures,
        }),
        _ => Err(WebhookError::InvalidFormat),
    }
}

/// Unix seconds: ASCII digits only (`str::parse` would also take a leading `+`).
fn parse_timestamp(value: &str) -> Result<u64, WebhookError> {
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(WebhookError::InvalidFormat);
    }
    value.parse().map_err(|_| WebhookError::InvalidFormat)
}

/// Decodes one `v2` value; `None` for anything that cannot be a signature. Padding is
/// tolerated although Authsignal strips it.
fn decode_signature(signature: &str) -> Option<Vec<u8>> {
    if signature.is_empty() || signature.len() > MAX_SIGNATURE_CHARS {
        return None;
    }
    STANDARD_NO_PAD.decode(signature.trim_end_matches('=')).ok()
}

/// Decodes an authentic body, keeping the body itself out of the error.
fn decode<T: DeserializeOwned>(body: &[u8]) -> Result<T, WebhookError> {
    serde_json::from_slice(body).map_err(|err| WebhookError::Payload {
        reason: scrub_quoted(&err.to_string()),
    })
}

/// Replaces every double-quoted run of a decoder message by `"…"`: serde quotes the
/// offending *values*, and webhook data holds one-time codes and e-mail addresses.
fn scrub_quoted(message: &str) -> String {
    message
        .split('"')
        .enumerate()
        .map(|(index, part)| if index % 2 == 0 { part } else { "\"…\"" })
        .collect()
}

/// Why a webhook was not accepted.
///
/// The first three messages are exactly those of the official SDKs. No variant holds a
/// secret or the body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WebhookError {
    /// The header is not `t=<unix seconds>,v2=<signature>[,v2=...]`.
    #[error("Signature format is invalid.")]
    InvalidFormat,
    /// The timestamp is further from now than the tolerance, in the past or the future.
    #[error("Timestamp is outside the tolerance zone.")]
    OutsideTolerance,
    /// No `v2` signature matches the body under any of the secrets.
    #[error("Signature mismatch.")]
    Mismatch,
    /// The body is authentic but a batch of log events, where a single event was expected.
    #[error("Payload is a batch of log events. Use construct_log_event_batch instead.")]
    LogEventBatch,
    /// The body is authentic but not the expected JSON.
    #[error("the webhook payload is not the expected JSON: {reason}")]
    Payload {
        /// The decoder's message, with quoted values replaced by `"…"`.
        reason: String,
    },
}

/// One Authsignal webhook event, e.g. `email.created` for an OTP e-mail to send yourself.
///
/// Only the envelope is typed: what `data` holds depends on [`event_type`](Self::event_type)
/// and is not limited to strings (numbers, booleans, arrays and objects occur).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct WebhookEvent {
    /// The payload version, `1` today.
    pub version: u32,
    /// The event type, e.g. `email.created` (`type` on the wire).
    #[serde(rename = "type")]
    pub event_type: String,
    /// The event's unique id, for de-duplicating deliveries.
    pub id: String,
    /// Who sent it, e.g. `https://authsignal.com`.
    pub source: String,
    /// When it happened, RFC 3339 (e.g. `2025-02-20T01:51:56.070Z`).
    pub time: String,
    /// The Authsignal tenant.
    pub tenant_id: String,
    /// The event's data; `null` when absent.
    #[serde(default)]
    pub data: serde_json::Value,
}

/// Log events, which Authsignal delivers batched as `{"records":[...]}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct LogEventBatch {
    /// The events, oldest first as delivered.
    pub records: Vec<LogEvent>,
}

/// One log event of a [`LogEventBatch`]: the event envelope with a `record` instead of
/// `data`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct LogEvent {
    /// The payload version, `1` today.
    pub version: u32,
    /// The event type, e.g. `action.log_created` (`type` on the wire).
    #[serde(rename = "type")]
    pub event_type: String,
    /// The event's unique id.
    pub id: String,
    /// Who sent it, e.g. `https://authsignal.com`.
    pub source: String,
    /// When it happened, RFC 3339.
    pub time: String,
    /// The Authsignal tenant.
    pub tenant_id: String,
    /// The logged record; `null` when absent.
    #[serde(default)]
    pub record: serde_json::Value,
}

/// A webhook body: a single event or a batch of log events.
///
/// A body is a batch when it is an object with `records` and no `type`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
#[non_exhaustive]
pub enum WebhookPayload {
    /// A single event.
    Event(WebhookEvent),
    /// A batch of log events.
    LogEventBatch(LogEventBatch),
}

impl<'de> Deserialize<'de> for WebhookPayload {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::Error as _;
        // Decided on the shape rather than with `#[serde(untagged)]`, whose only error is
        // "did not match any variant": this way a broken event says which field is wrong.
        let value = serde_json::Value::deserialize(deserializer)?;
        let is_batch = value
            .as_object()
            .is_some_and(|object| object.contains_key("records") && !object.contains_key("type"));
        if is_batch {
            LogEventBatch::deserialize(value)
                .map(Self::LogEventBatch)
                .map_err(D::Error::custom)
        } else {
            WebhookEvent::deserialize(value)
                .map(Self::Event)
                .map_err(D::Error::custom)
        }
    }
}

/// An Axum extractor for an authentic webhook body, decoded as `T`.
///
/// It takes the [`WebhookVerifier`] from the state (`WebhookVerifier: FromRef<S>`), reads
/// the raw body up to the verifier's [body limit](WebhookVerifier::with_body_limit),
/// verifies the `X-Signature-V2` header over those exact bytes and only then decodes them,
/// so the handler never sees an unverified body. Failures become a [`WebhookRejection`].
/// See the [module docs](self) for a router.
#[derive(Debug, Clone)]
pub struct VerifiedWebhook<T = WebhookPayload>(pub T);

impl<S, T> FromRequest<S> for VerifiedWebhook<T>
where
    WebhookVerifier: FromRef<S>,
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = WebhookRejection;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let verifier = WebhookVerifier::from_ref(state);
        let (parts, body) = req.into_parts();
        let mut headers = parts.headers.get_all(SIGNATURE_HEADER).iter();
        let header = headers.next().ok_or(WebhookRejection::MissingSignature)?;
        if headers.next().is_some() {
            // Two signature headers: which one counts is ambiguous, so neither does.
            return Err(WebhookError::InvalidFormat.into());
        }
        // Format and timestamp first: a malformed or stale request is not worth reading.
        let parsed = verifier.check_header(header.as_bytes(), SystemTime::now())?;
        let declared_too_large = parts
            .headers
            .get(http::header::CONTENT_LENGTH)
            .and_then(|length| length.to_str().ok()?.parse::<u64>().ok())
            .is_some_and(|length| length > verifier.body_limit as u64);
        if declared_too_large {
            return Err(WebhookRejection::PayloadTooLarge {
                limit: verifier.body_limit,
            });
        }
        let bytes = read_limited(body, verifier.body_limit).await?;
        verifier.check_signature(&parsed, &bytes)?;
        Ok(Self(decode(&bytes)?))
    }
}

/// Reads a whole body, giving up as soon as it exceeds `limit` bytes.
async fn read_limited(mut body: Body, limit: usize) -> Result<Bytes, WebhookRejection> {
    let mut buffer = BytesMut::new();
    while let Some(frame) = poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await {
        let frame = frame.map_err(|_| WebhookRejection::BodyUnreadable)?;
        if let Ok(data) = frame.into_data() {
            if data.len() > limit - buffer.len() {
                return Err(WebhookRejection::PayloadTooLarge { limit });
            }
            buffer.extend_from_slice(&data);
        }
    }
    Ok(buffer.freeze())
}

/// Why [`VerifiedWebhook`] refused a request. The handler did not run.
///
/// As a response it is JSON, `{"error": "<code>", "message": "<text>"}`, with:
///
/// - `400 Bad Request` when the request is not shown to come from Authsignal: no
///   `X-Signature-V2` header, a malformed one, a timestamp outside the tolerance, or a
///   signature mismatch (`400` rather than `401`, which would call for a `WWW-Authenticate`
///   challenge that a webhook sender cannot answer), and when the body cannot be read;
/// - `413 Payload Too Large` when the body exceeds the verifier's limit;
/// - `422 Unprocessable Entity` when the body is authentic but not the expected JSON, so
///   that a sender's logs tell it apart from a signature problem.
///
/// ```
/// use axum_authsignal::webhook::{WebhookError, WebhookRejection};
/// let rejection = WebhookRejection::from(WebhookError::Mismatch);
/// assert_eq!(rejection.status(), 400);
/// assert_eq!(rejection.code(), "signature_mismatch");
/// assert_eq!(rejection.body_text(), "Signature mismatch.");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WebhookRejection {
    /// The request has no `X-Signature-V2` header.
    #[error("The X-Signature-V2 header is missing.")]
    MissingSignature,
    /// Verification or decoding failed.
    #[error(transparent)]
    Invalid(#[from] WebhookError),
    /// The body is larger than the verifier's limit.
    #[error("The webhook body is larger than {limit} bytes.")]
    PayloadTooLarge {
        /// The limit, in bytes.
        limit: usize,
    },
    /// The body could not be read (the connection failed mid-body).
    #[error("The webhook body could not be read.")]
    BodyUnreadable,
}

impl WebhookRejection {
    /// The response status (see the type's docs).
    #[must_use]
    pub fn status(&self) -> StatusCode {
        match self {
            Self::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Invalid(WebhookError::Payload { .. } | WebhookError::LogEventBatch) => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            _ => StatusCode::BAD_REQUEST,
        }
    }

    /// A stable, machine-readable code: the response's `error` field.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Self::MissingSignature => "missing_signature",
            Self::Invalid(WebhookError::InvalidFormat) => "invalid_signature_format",
            Self::Invalid(WebhookError::OutsideTolerance) => "timestamp_outside_tolerance",
            Self::Invalid(WebhookError::Mismatch) => "signature_mismatch",
            Self::Invalid(WebhookError::LogEventBatch | WebhookError::Payload { .. }) => {
                "invalid_payload"
            }
            Self::PayloadTooLarge { .. } => "payload_too_large",
            Self::BodyUnreadable => "body_unreadable",
        }
    }

    /// The human-readable text: the response's `message` field.
    #[must_use]
    pub fn body_text(&self) -> String {
        self.to_string()
    }
}

impl IntoResponse for WebhookRejection {
    fn into_response(self) -> Response {
        // Rejections are expected from scanners and misconfigured secrets alike: worth a
        // trace for whoever debugs a silent webhook, not a warning per request.
        tracing::debug!(code = self.code(), "webhook rejected");
        let body = serde_json::json!({ "error": self.code(), "message": self.body_text() });
        (self.status(), Json(body)).into_response()
    }
}
