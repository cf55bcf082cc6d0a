//! Authenticators: `getAuthenticators`, `enrollVerifiedAuthenticator`.

use serde::{Deserialize, Serialize};

use super::VerificationMethod;

/// An authenticator a user has enrolled.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct UserAuthenticator {
    /// The user it belongs to (absent in some older answers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// Its id, used by `deleteAuthenticator`.
    pub user_authenticator_id: String,
    /// How it verifies the user (absent in the legacy `oobChannel` shape).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verification_method: Option<VerificationMethod>,
    /// When it was created (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
    /// When it was verified (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verified_at: Option<String>,
    /// When it was last used (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_verified_at: Option<String>,
    /// The phone number of an SMS or WhatsApp authenticator.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone_number: Option<String>,
    /// The email address of an email authenticator.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// The username attached to it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// The display name attached to it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// The WebAuthn credential of a passkey or security key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webauthn_credential: Option<serde_json::Value>,
}

/// What `enrollVerifiedAuthenticator` enrolls.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EnrollVerifiedAuthenticatorRequest {
    /// The kind of authenticator (`SMS`, `EMAIL_OTP`, ...).
    pub verification_method: VerificationMethod,
    /// The phone number, for SMS and WhatsApp.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone_number: Option<String>,
    /// The email address, for email methods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Whether it becomes the user's default method.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_default: Option<bool>,
}

impl EnrollVerifiedAuthenticatorRequest {
    /// A request for `method` with no other attributes.
    pub fn new(method: VerificationMethod) -> Self {
        Self {
            verification_method: method,
            phone_number: None,
            email: None,
            is_default: None,
        }
    }
}

/// The answer of `enrollVerifiedAuthenticator`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct EnrollVerifiedAuthenticatorResponse {
    /// The new authenticator.
    pub authenticator: UserAuthenticator,
    /// Recovery codes, when this was the user's first authenticator.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovery_codes: Option<Vec<String>>,
}
