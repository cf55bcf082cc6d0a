//! One-time-code challenges: `challenge`, `verify`, `claimChallenge`, `getChallenge`.

use serde::{Deserialize, Serialize};

use super::{CustomData, SmsChannel, Token, VerificationFailureReason, VerificationMethod};

/// What `challenge` starts: a one-time code by SMS, email or WhatsApp.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChallengeRequest {
    /// `SMS`, `EMAIL_OTP` or `WHATSAPP`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verification_method: Option<VerificationMethod>,
    /// The action the code is for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    /// A challenge to resend.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub challenge_id: Option<String>,
    /// The idempotency key of a tracked action.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idempotency_key: Option<String>,
    /// The user, if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// Where an email code goes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Where an SMS or WhatsApp code goes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone_number: Option<String>,
    /// The SMS channel.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sms_channel: Option<SmsChannel>,
    /// The message's locale.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locale: Option<String>,
    /// A device identifier.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_id: Option<String>,
    /// The client's IP address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_address: Option<String>,
    /// The client's `User-Agent`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
    /// Values the tenant's rules can test.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom: Option<CustomData>,
    /// Space-separated scopes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
}

/// The answer of `challenge`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ChallengeResponse {
    /// Pass it to `verify`.
    pub challenge_id: String,
    /// The idempotency key of the action it belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idempotency_key: Option<String>,
    /// When the code expires (unix seconds or RFC 3339, as the API sends it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<serde_json::Value>,
}

/// What `verify` checks.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VerifyRequest {
    /// The challenge.
    pub challenge_id: String,
    /// The code the user typed.
    pub verification_code: String,
}

/// The answer of `verify`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct VerifyResponse {
    /// Whether the code was right.
    pub is_verified: bool,
    /// The verified email address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// The verified phone number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone_number: Option<String>,
    /// The method verified.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verification_method: Option<VerificationMethod>,
    /// Why the code was not accepted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_reason: Option<VerificationFailureReason>,
}

/// What `claimChallenge` claims.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClaimChallengeRequest {
    /// The challenge.
    pub challenge_id: String,
    /// The user who claims it.
    pub user_id: String,
    /// Claim it even if the code was not verified yet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skip_verification_check: Option<bool>,
}

/// The answer of `claimChallenge`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ClaimChallengeResponse {
    /// A token for `validateChallenge`.
    pub token: Token,
    /// How the user was verified.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verification_method: Option<VerificationMethod>,
}

/// The search of `getChallenge`. Only the fields that are set go into the query string.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GetChallengeRequest {
    /// The challenge.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub challenge_id: Option<String>,
    /// The user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// The action.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    /// The method.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verification_method: Option<VerificationMethod>,
}

/// The answer of `getChallenge`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct GetChallengeResponse {
    /// The challenge.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub challenge_id: Option<String>,
    /// When it expires.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<serde_json::Value>,
    /// Its method.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verification_method: Option<VerificationMethod>,
    /// Its SMS channel.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sms_channel: Option<SmsChannel>,
    /// The phone number it went to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone_number: Option<String>,
    /// The email address it went to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Its action.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
}
