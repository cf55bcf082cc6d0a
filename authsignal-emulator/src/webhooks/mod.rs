//! Webhooks: the emulator sends Authsignal's webhook events to URLs of its configuration,
//! signed as Authsignal signs them, so that an app's webhook handler (and the crate's
//! [`VerifiedWebhook`](authsignal::webhook::VerifiedWebhook)) is exercised end to end.
//!
//! ```json
//! {"webhooks": {
//!   "endpoints": [
//!     {"url": "http://127.0.0.1:3000/webhooks/authsignal"},
//!     {"url": "http://127.0.0.1:3000/webhooks/otp", "events": ["sms.created", "email.created"]}
//!   ],
//!   "maxRetries": 3,
//!   "firstBackoffMillis": 250
//! }}
//! ```
//!
//! # The events
//!
//! Each event is the documented envelope, `{version: 1, type, id, source:
//! "https://authsignal.com", time, tenantId, data}` (`time` by the emulator's clock,
//! `tenantId` the [emulator's](super::EmulatorHandle::tenant_id)); log events come batched
//! as `{"records": [{version, type, id, source, time, tenantId, record}, ...]}`. Which are
//! sent, and when (Authsignal's docs list the types and their fields; where the emulator
//! decides more, it says so):
//!
//! | type | sent when | data |
//! |---|---|---|
//! | `authenticator.created` | an authenticator is enrolled: `enrollVerifiedAuthenticator`, a batch, an app's first code, [`enroll_totp`](super::EmulatorHandle::enroll_totp) | `userId, verificationMethod, createdAt, userAuthenticatorId`, and `email`, `phoneNumber`, or a passkey's `credentialId, aaguid, credentialName` (documented) |
//! | `authenticator.updated` | an SMS authenticator completes a code over another channel than last time (SMS, WhatsApp), the documented example; nothing else updates one here | `userId, verificationMethod, updatedAt, userAuthenticatorId, previousSmsChannel, phoneNumber` (documented) |
//! | `authenticator.deleted` | `deleteAuthenticator`, a new app replacing the old, `deleteUser` (for each of the user's authenticators: assumed) | the created fields and `deletedAt` (documented) |
//! | `sms.created` | a code is sent by SMS (`challenge`, the client API, the pre-built UI); **synchronous** | `to, code, userId, idempotencyKey, actionCode, locale` (documented) |
//! | `email.created` | a code or a magic link is sent by email; **synchronous** | `to, code` (or a magic link's `url`), `userId, idempotencyKey, actionCode, userAgent, ipAddress, locale` (documented) |
//! | `push.created` | a push is sent (the client API's `push.challenge`); **synchronous** | `challengeId, userId, idempotencyKey, actionCode, ipAddress` (documented; `userAgent` and `timezone` the emulator does not know) |
//! | `action.verify` | a challenge of an action with a [`verification_webhook_url`](super::ActionConfig::verification_webhook_url) is about to succeed; sent to that URL only; **synchronous** | `userId, action, idempotencyKey, verifiedAt, state: "CHALLENGE_SUCCEEDED", verificationMethod, userAuthenticatorId` (documented) |
//! | `action.log_created` | an action reaches a final state: `ALLOW`, `BLOCK`, `REVIEW_REQUIRED` when tracked, `CHALLENGE_SUCCEEDED`, `CHALLENGE_FAILED`, and states set by `updateAction` | `record`: `tenantId, userId, actionCode, idempotencyKey, createdAt, updatedAt, state, stateUpdatedAt, outcome, verificationMethod, rules, ipAddress, email, phoneNumber, deviceId, custom` as the emulator has them (documented fields) |
//! | `challenge.log_created` | a code is sent, right, wrong, or the last allowed wrong one (`SMS_SENT`, `SMS_CODE_VALID`, `SMS_CODE_INVALID_OR_EXPIRED`, `SMS_MAX_ATTEMPTS_EXCEEDED`, and the `EMAIL_OTP_` and `WHATSAPP_` ones) | `record`: `tenantId, userId, actionCode, idempotencyKey, createdAt, type, verificationMethod, email, phoneNumber` (documented) |
//!
//! A WhatsApp code sends no `sms.created` (assumed: WhatsApp is Authsignal's own channel).
//!
//! **Synchronous** events (documented: "a non-2xx response fails the challenge"; "blocks
//! the transition") are queued behind the events before them, so that a receiver sees
//! events in order (so a synchronous event may wait for an earlier event's retries), and
//! tried once, never retried: the request that caused one waits for every endpoint's
//! answer. Any answer but a 2xx within [`WEBHOOK_ATTEMPT_TIMEOUT`] fails
//! the request with 400 `webhook_failed` (the status and code are assumed: the docs say
//! "the API will return an error response"); a challenge event's message is then not
//! sent, an `action.verify`'s challenge does not succeed, and the user may try again.
//!
//! # Signing and delivery
//!
//! Every body is signed as the official SDKs verify it: `X-Signature-V2:
//! t=<unix seconds>,v2=<base64 HMAC-SHA256 of "<t>.<body>">`, keyed with the tenant
//! secret (the SDKs verify with the API secret key), `t` by the wall clock at the moment
//! of sending (the receiver compares it with its own clock, whatever the emulator's says).
//!
//! Deliveries go out one at a time, in the order the events happened, as `POST` with
//! `Content-Type: application/json`. A 2xx answer delivers; for the asynchronous events,
//! any other answer, or none
//! within 5 seconds, is retried up to [`max_retries`](WebhookSettings::max_retries) times
//! (3 by default, as Authsignal documents for its authenticator events), the pauses
//! doubling from [`first_backoff`](WebhookSettings::first_backoff) (250 ms by default;
//! Authsignal waits at least 30 seconds, which a test cannot). Unlike Authsignal, the
//! emulator sends at once: no event waits for a batch window or a token's lifetime.
//! Every attempt is in [`calls`](super::EmulatorHandle::calls) as a `webhookDelivery` with
//! its [`WebhookAttempt`]; [`webhooks_idle`](super::EmulatorHandle::webhooks_idle) waits
//! until every event is delivered or given up.

mod delivery;
pub(crate) mod events;
mod outbound;

use std::time::Duration;

use serde::{Deserialize, Serialize};

pub(crate) use delivery::{Retry, Tracker, deliver};
pub(crate) use events::LogKind;
pub(crate) use outbound::{Outbound, Queued, SynchronousDelivery};

/// The event types an endpoint may take, as Authsignal names them. `action.verify` is not
/// among them: it goes to an action's own
/// [`verification_webhook_url`](super::ActionConfig::verification_webhook_url).
pub const WEBHOOK_EVENT_TYPES: [&str; 8] = [
    "authenticator.created",
    "authenticator.updated",
    "authenticator.deleted",
    "sms.created",
    "email.created",
    "push.created",
    "action.log_created",
    "challenge.log_created",
];

/// The `errorCode` of a request that failed because a synchronous webhook (`sms.created`,
/// `email.created`, `push.created`, `action.verify`) did not accept its event.
pub(crate) const WEBHOOK_FAILED: &str = "webhook_failed";

/// How long one delivery attempt may take before it counts as failed.
pub const WEBHOOK_ATTEMPT_TIMEOUT: Duration = Duration::from_secs(5);

/// The most log events one batch holds, as Authsignal documents.
pub(crate) const MAX_LOG_BATCH: usize = 500;

/// Where the emulator sends webhook events, and how often it retries.
///
/// ```
/// use std::time::Duration;
/// use authsignal_emulator::{WebhookEndpoint, WebhookSettings};
///
/// let settings = WebhookSettings::default()
///     .endpoint(WebhookEndpoint::new("http://127.0.0.1:3000/webhooks"))
///     .retries(2, Duration::from_millis(10));
/// assert_eq!(settings.max_retries, 2);
/// assert_eq!(settings.first_backoff(), Duration::from_millis(10));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[non_exhaustive]
pub struct WebhookSettings {
    /// The URLs events go to; none by default, and then nothing is sent.
    #[serde(default)]
    pub endpoints: Vec<WebhookEndpoint>,
    /// How many times a failed delivery is tried again (3 by default).
    #[serde(default = "default_max_retries")]
    pub max_retries: u32,
    /// The pause before the first retry, in milliseconds; each later one doubles it.
    #[serde(default = "default_first_backoff_millis")]
    pub first_backoff_millis: u64,
}

fn default_max_retries() -> u32 {
    3
}

fn default_first_backoff_millis() -> u64 {
    250
}

impl Default for WebhookSettings {
    fn default() -> Self {
        Self {
            endpoints: Vec::new(),
            max_retries: default_max_retries(),
            first_backoff_millis: default_first_backoff_millis(),
        }
    }
}

impl WebhookSettings {
    /// Adds an endpoint.
    #[must_use]
    pub fn endpoint(mut self, endpoint: WebhookEndpoint) -> Self {
        self.endpoints.push(endpoint);
        self
    }

    /// Retries a failed delivery `max_retries` times, pausing `first_backoff`, then twice
    /// as long each time.
    #[must_use]
    pub fn retries(mut self, max_retries: u32, first_backoff: Duration) -> Self {
        self.max_retries = max_retries;
        self.first_backoff_millis = u64::try_from(first_backoff.as_millis()).unwrap_or(u64::MAX);
        self
    }

    /// The pause before the first retry.
    pub fn first_backoff(&self) -> Duration {
        Duration::from_millis(self.first_backoff_millis)
    }

    /// Checks every endpoint: an `http` or `https` URL, and event types the emulator
    /// sends (a typo must not silently leave a handler without events).
    pub(crate) fn check(&self) -> Result<(), String> {
        for endpoint in &self.endpoints {
            let url = reqwest::Url::parse(&endpoint.url)
                .map_err(|err| format!("webhook url {:?}: {err}", endpoint.url))?;
            if !matches!(url.scheme(), "http" | "https") {
                return Err(format!("webhook url {:?}: not http or https", endpoint.url));
            }
            if let Some(unknown) = endpoint
                .events
                .iter()
                .find(|event| !WEBHOOK_EVENT_TYPES.contains(&event.as_str()))
            {
                return Err(format!(
                    "webhook event type {unknown:?} is not one the emulator sends ({})",
                    WEBHOOK_EVENT_TYPES.join(", ")
                ));
            }
        }
        Ok(())
    }
}

/// One URL events are sent to: every type, or only those listed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[non_exhaustive]
pub struct WebhookEndpoint {
    /// Where the events are posted.
    pub url: String,
    /// The event types it takes (see [`WEBHOOK_EVENT_TYPES`]); empty for all.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub events: Vec<String>,
}

impl WebhookEndpoint {
    /// An endpoint taking every event type.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            events: Vec::new(),
        }
    }

    /// Only these event types.
    #[must_use]
    pub fn events<I, T>(mut self, types: I) -> Self
    where
        I: IntoIterator<Item = T>,
        T: Into<String>,
    {
        self.events = types.into_iter().map(Into::into).collect();
        self
    }

    pub(crate) fn takes(&self, event_type: &str) -> bool {
        self.events.is_empty() || self.events.iter().any(|e| e == event_type)
    }
}

/// One attempt to deliver webhook events, as [`calls`](super::EmulatorHandle::calls)
/// records it (operation `webhookDelivery`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct WebhookAttempt {
    /// Where it went, without any query string.
    pub url: String,
    /// The events it carried: one, or a batch of log events.
    pub event_ids: Vec<String>,
    /// Their types, in the same order.
    pub event_types: Vec<String>,
    /// 1 for the first attempt, 2 for the first retry, ...
    pub attempt: u32,
    /// The answer's status; `None` when there was none (refused, reset, timed out).
    pub status: Option<u16>,
    /// What came of it.
    pub outcome: WebhookOutcome,
}

/// What came of one delivery attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum WebhookOutcome {
    /// A 2xx answer: delivered.
    Delivered,
    /// Failed; it will be tried again.
    Retrying,
    /// Failed, and it was the last try.
    GaveUp,
}
