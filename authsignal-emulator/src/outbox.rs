//! The outbox: every one-time code and magic link the emulator "sent", for tests to read
//! instead of a phone or an inbox.

use std::time::SystemTime;

use super::clock::Timestamp;
use super::state::OtpChallenge;
use authsignal::types::VerificationMethod;

/// A one-time code (or an email magic link) the emulator would have sent by SMS, email
/// or WhatsApp.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct OutboxMessage {
    /// The challenge the code answers (pass it to `verify`).
    pub challenge_id: String,
    /// `SMS`, `EMAIL_OTP`, `WHATSAPP` or `EMAIL_MAGIC_LINK`.
    pub verification_method: VerificationMethod,
    /// The phone number or email address it went to.
    pub to: String,
    /// The 6-digit code; empty for a magic link.
    pub code: String,
    /// The magic link to follow (open it as the user's browser would), for a magic link.
    pub link: Option<String>,
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
            .field("link", &self.link.as_ref().map(|_| "[redacted]"))
            .field("user_id", &self.user_id)
            .field("action", &self.action)
            .field("sent_at", &self.sent_at)
            .finish()
    }
}

impl OutboxMessage {
    /// The message that delivered `challenge`'s code, or `link`.
    pub(crate) fn sent(challenge: &OtpChallenge, link: Option<String>, now: Timestamp) -> Self {
        Self {
            challenge_id: challenge.id.clone(),
            verification_method: challenge.method.clone(),
            to: challenge
                .email
                .clone()
                .or_else(|| challenge.phone_number.clone())
                .unwrap_or_default(),
            // A link's secret is in the link only, so that no code-reading path (such as
            // `last_code_sent_to`) hands it out as a code.
            code: if link.is_some() {
                String::new()
            } else {
                challenge.code.clone()
            },
            link,
            user_id: challenge.user_id.clone(),
            action: challenge.action.clone(),
            sent_at: now.to_system(),
        }
    }
}
