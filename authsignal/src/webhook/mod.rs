//! Authsignal webhooks: `X-Signature-V2` verification, the events, and a replay guard.
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
//! past or the future), and compares in constant time.
//!
//! # Replays
//!
//! The tolerance bounds how long a captured request can be replayed, not whether it can:
//! within the window (from the signature's timestamp minus the tolerance to the timestamp
//! plus the tolerance) the very same request verifies again, as often as it is sent.
//! Authsignal itself sends an event again when a delivery is not answered 2xx. So handle
//! each event once by its id: keep the ids handled for at least as long as a request
//! carrying them verifies (the timestamp plus the tolerance), and answer a repeat 2xx
//! without handling it. [`ReplayGuard`] does that in memory, for one instance.
//!
//! ```
//! use authsignal::webhook::{WebhookEvent, WebhookVerifier};
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
//! In an Axum app, `axum-authsignal`'s `VerifiedWebhook` extractor does all of this before
//! the handler runs. Elsewhere, [`WebhookVerifier::check_header`] and
//! [`WebhookVerifier::verify_body`] are the two halves a framework's extractor needs.

use std::time::Duration;

use http::HeaderName;

mod error;
mod event;
mod replay;
mod signature;
mod verifier;

pub use error::WebhookError;
pub use event::{LogEvent, LogEventBatch, WebhookEvent, WebhookPayload};
pub use replay::ReplayGuard;
pub use signature::{SignatureHeader, signature_header};
pub use verifier::WebhookVerifier;

/// The header Authsignal puts the signature in (`X-Signature-V2`).
pub const SIGNATURE_HEADER: HeaderName = HeaderName::from_static("x-signature-v2");

/// How far a signature's timestamp may be from now, by default: 5 minutes, as in the
/// official SDKs. Within it, a captured request verifies again (see the module's
/// "Replays").
pub const DEFAULT_TOLERANCE: Duration = Duration::from_secs(5 * 60);

/// The largest body a verifier lets an extractor read, by default: 256 KiB. Authsignal's events are
/// a few hundred bytes; the bound keeps a hostile client from making us buffer and hash
/// arbitrarily much before the signature is known to be bad.
pub const DEFAULT_BODY_LIMIT: usize = 256 * 1024;

/// The most `v2` values a header may carry. Authsignal sends one, or two during a key
/// rotation; a header with more is rejected as malformed, so a hostile header cannot make
/// the verifier do unbounded work.
pub const MAX_SIGNATURES: usize = 8;
