//! [`WebhookError`]: why a webhook was not accepted.

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

impl WebhookError {
    /// A stable, machine-readable code for the error, for a response or a metric:
    /// `invalid_signature_format`, `timestamp_outside_tolerance`, `signature_mismatch`, or
    /// `invalid_payload` (authentic, but not the JSON expected).
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidFormat => "invalid_signature_format",
            Self::OutsideTolerance => "timestamp_outside_tolerance",
            Self::Mismatch => "signature_mismatch",
            Self::LogEventBatch | Self::Payload { .. } => "invalid_payload",
        }
    }

    /// Whether the request is not shown to come from the sender (format, time or
    /// signature), as opposed to authentic but not the JSON expected.
    #[must_use]
    pub fn is_unauthenticated(&self) -> bool {
        matches!(
            self,
            Self::InvalidFormat | Self::OutsideTolerance | Self::Mismatch
        )
    }
}
