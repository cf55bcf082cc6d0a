//! The webhook bodies: events, log event batches, and decoding an authentic body.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize};

use super::WebhookError;
use crate::safe_text::scrub_quoted;

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

/// Decodes an authentic body, keeping the body itself out of the error.
pub(super) fn decode<T: DeserializeOwned>(body: &[u8]) -> Result<T, WebhookError> {
    serde_json::from_slice(body).map_err(|err| WebhookError::Payload {
        reason: scrub_quoted(&err.to_string()),
    })
}
