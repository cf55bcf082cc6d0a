//! The outbox: every one-time code the emulator "sent", for tests to read instead of a phone.

use std::time::SystemTime;

use authsignal::types::VerificationMethod;

/// A one-time code the emulator would have sent by SMS, email or WhatsApp.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct OutboxMessage {
    /// The challenge the code answers (pass it to `verify`).
    pub challenge_id: String,
    /// `SMS`, `EMAIL_OTP` or `WHATSAPP`.
    pub verification_method: VerificationMethod,
    /// The phone number or email address it went to.
    pub to: String,
    /// The 6-digit code.
    pub code: String,
    /// The user the challenge named, if any.
    pub user_id: Option<String>,
    /// The action the challenge named, if any.
    pub action: Option<String>,
    /// When it was sent, by the emulator's clock.
    pub sent_at: SystemTime,
}

impl std::fmt::Debug for OutboxMessage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // A code is a credential for a few minutes; a failing test should not print it.
        f.debug_struct("OutboxMessage")
            .field("challenge_id", &self.challenge_id)
            .field("verification_method", &self.verification_method)
            .field("to", &self.to)
            .field("code", &"[redacted]")
            .field("user_id", &self.user_id)
            .field("action", &self.action)
            .field("sent_at", &self.sent_at)
            .finish()
    }
}
