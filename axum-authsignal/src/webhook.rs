//! Authsignal webhooks in an Axum app: [`VerifiedWebhook`], an extractor that verifies
//! the `X-Signature-V2` header over the raw body before the body is decoded, and its
//! [`WebhookRejection`]. The verification itself, the events' types and the
//! [`ReplayGuard`] are [`authsignal::webhook`]'s, re-exported here.
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
//! async fn on_webhook(webhook: VerifiedWebhook) -> &'static str {
//!     // Runs only for authentic requests (see "Replays" for repeated ones).
//!     match webhook.payload {
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

use std::future::poll_fn;
use std::pin::Pin;
use std::time::SystemTime;

use axum::Json;
use axum::body::{Body, HttpBody};
use axum::extract::{FromRef, FromRequest, Request};
use axum::response::{IntoResponse, Response};
use bytes::{Bytes, BytesMut};
use http::StatusCode;
use serde::de::DeserializeOwned;

pub use authsignal::webhook::*;

/// An Axum extractor for an authentic webhook body, decoded as `T`.
///
/// It takes the [`WebhookVerifier`] from the state (`WebhookVerifier: FromRef<S>`), reads
/// the raw body up to the verifier's [body limit](WebhookVerifier::with_body_limit),
/// verifies the `X-Signature-V2` header over those exact bytes and only then decodes them,
/// so the handler never sees an unverified body. Failures become a [`WebhookRejection`].
/// See the [module docs](self) for a router.
///
/// Authentic is not the same as new: a captured request verifies again for as long as its
/// [`signed_at`](Self::signed_at) is within the verifier's tolerance. Drop repeats by event
/// id, e.g. with a [`ReplayGuard`] (see "Replays" in [`authsignal::webhook`]).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct VerifiedWebhook<T = WebhookPayload> {
    /// The decoded body. Its event id (or, for a batch, each record's) is what tells a
    /// repeated delivery from a new one.
    pub payload: T,
    /// When Authsignal signed the request: the `t` of its `X-Signature-V2` header. The same
    /// request verifies until this time plus the verifier's tolerance, so a replay guard
    /// keeps its event id until then.
    pub signed_at: SystemTime,
}

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
        let checked = verifier.check_header(header.as_bytes(), SystemTime::now())?;
        let declared_too_large = parts
            .headers
            .get(http::header::CONTENT_LENGTH)
            .and_then(|length| length.to_str().ok()?.parse::<u64>().ok())
            .is_some_and(|length| length > verifier.body_limit() as u64);
        if declared_too_large {
            return Err(WebhookRejection::PayloadTooLarge {
                limit: verifier.body_limit(),
            });
        }
        let bytes = read_limited(body, verifier.body_limit()).await?;
        Ok(Self {
            payload: verifier.verify_body(&checked, &bytes)?,
            signed_at: checked.signed_at(),
        })
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
            Self::Invalid(error) if !error.is_unauthenticated() => StatusCode::UNPROCESSABLE_ENTITY,
            _ => StatusCode::BAD_REQUEST,
        }
    }

    /// A stable, machine-readable code: the response's `error` field.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Self::MissingSignature => "missing_signature",
            Self::Invalid(error) => error.code(),
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
