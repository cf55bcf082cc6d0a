//! Devices: `getDevices`, `invalidateDevice`, `updateDevice`; and
//! `batchEnrollVerifiedAuthenticators`, which enrolls passkeys for many users at once.

use serde::{Deserialize, Serialize};

use super::VerificationMethod;

/// The most authenticators one `batchEnrollVerifiedAuthenticators` takes, as documented;
/// the client refuses a larger batch without calling out.
pub const MAX_BATCH_ENROLL: usize = 1000;

/// A device a user has performed actions on (tracked with a `deviceId`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct UserDevice {
    /// The user.
    pub user_id: String,
    /// The device's id, as the app sent it in `track`.
    pub device_id: String,
    /// When the device was first seen (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
    /// When a challenge was last completed on it (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authenticated_at: Option<String>,
    /// When it was invalidated (RFC 3339): it is then treated as a new device.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invalidated_at: Option<String>,
    /// Until when it is remembered (RFC 3339), for rules on `device.isRemembered`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remembered_until: Option<String>,
    /// The method last used to verify the user on it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_verification_method: Option<VerificationMethod>,
}

/// The change of `updateDevice`.
///
/// Unlike other requests, its one field is always sent: `None` goes out as
/// `"rememberedUntil": null`, which is how the API is told to stop remembering a device.
///
/// ```
/// use authsignal::types::UpdateDeviceRequest;
///
/// let remember = UpdateDeviceRequest::remember_until("2030-01-01T00:00:00.000Z");
/// assert_eq!(
///     serde_json::to_string(&remember).unwrap(),
///     r#"{"rememberedUntil":"2030-01-01T00:00:00.000Z"}"#
/// );
/// let forget = UpdateDeviceRequest::forget();
/// assert_eq!(serde_json::to_string(&forget).unwrap(), r#"{"rememberedUntil":null}"#);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UpdateDeviceRequest {
    /// An RFC 3339 instant in the future until which the device is remembered; `None`
    /// stops remembering it.
    pub remembered_until: Option<String>,
}

impl UpdateDeviceRequest {
    /// Remember the device until `instant` (RFC 3339, in the future).
    pub fn remember_until(instant: impl Into<String>) -> Self {
        Self {
            remembered_until: Some(instant.into()),
        }
    }

    /// Stop remembering the device.
    pub fn forget() -> Self {
        Self::default()
    }
}

/// What `batchEnrollVerifiedAuthenticators` enrolls: at most [`MAX_BATCH_ENROLL`]
/// authenticators, of any users. Enrolling a credential its user already has is a no-op.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchEnrollVerifiedAuthenticatorsRequest {
    /// The authenticators, each processed on its own.
    pub authenticators: Vec<BatchEnrollAuthenticator>,
}

/// One authenticator of a batch: a passkey the app already holds (e.g. migrated from
/// another provider).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchEnrollAuthenticator {
    /// The user it is enrolled for.
    pub user_id: String,
    /// The kind of authenticator (`PASSKEY`).
    pub verification_method: VerificationMethod,
    /// The WebAuthn credential id.
    pub credential_id: String,
    /// The credential's public key (base64url-encoded COSE key).
    pub credential_public_key: String,
    /// A display name, e.g. the device's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The WebAuthn transports (`internal`, `hybrid`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transports: Option<Vec<String>>,
    /// The AAGUID of the authenticator that made the credential.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aaguid: Option<String>,
}

impl BatchEnrollAuthenticator {
    /// A passkey with no name, transports or AAGUID.
    pub fn passkey(
        user_id: impl Into<String>,
        credential_id: impl Into<String>,
        credential_public_key: impl Into<String>,
    ) -> Self {
        Self {
            user_id: user_id.into(),
            verification_method: VerificationMethod::Passkey,
            credential_id: credential_id.into(),
            credential_public_key: credential_public_key.into(),
            name: None,
            transports: None,
            aaguid: None,
        }
    }
}

/// The answer of `batchEnrollVerifiedAuthenticators`: counts, and why each failure failed.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct BatchEnrollVerifiedAuthenticatorsResponse {
    /// How many items the request had.
    #[serde(default)]
    pub total: u32,
    /// How many were enrolled (or already were).
    #[serde(default)]
    pub succeeded: u32,
    /// How many failed.
    #[serde(default)]
    pub failed: u32,
    /// The items that failed; empty when all succeeded.
    #[serde(default)]
    pub failures: Vec<BatchEnrollFailure>,
}

/// One item of a batch that failed to enroll.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct BatchEnrollFailure {
    /// The item's user.
    pub user_id: String,
    /// The item's credential.
    pub credential_id: String,
    /// Why, e.g. `conflict` (the credential belongs to another user).
    pub error_code: String,
    /// Why, in words.
    #[serde(default)]
    pub error_description: String,
}
