//! Sessions: `createSession`, `validateSession`, `refreshSession`, `revokeSession`,
//! `revokeUserSessions`.

use serde::{Deserialize, Serialize};

use super::{CustomData, Token, VerificationMethod};

/// What `createSession` exchanges: a validated challenge token for a session.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateSessionRequest {
    /// The app client the session is for.
    pub client_id: String,
    /// A challenge token.
    pub token: Token,
    /// The action the token must be for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
}

/// A pair of session tokens, from `createSession` and `refreshSession`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct SessionTokens {
    /// The access token.
    pub access_token: Token,
    /// The refresh token.
    pub refresh_token: Token,
}

/// What `validateSession` checks.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ValidateSessionRequest {
    /// The access token.
    pub access_token: Token,
    /// The app clients the session must belong to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_ids: Option<Vec<String>>,
}

/// The user of a valid session.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct SessionUser {
    /// The user's id.
    pub user_id: String,
    /// The email address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// The phone number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone_number: Option<String>,
    /// The username.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// The display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// Custom user data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom: Option<CustomData>,
}

/// The answer of `validateSession`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ValidateSessionResponse {
    /// The session's user.
    pub user: SessionUser,
    /// When the access token expires (unix seconds).
    pub expires_at: i64,
    /// How the user was verified.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verification_method: Option<VerificationMethod>,
}

/// What `refreshSession` refreshes.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RefreshSessionRequest {
    /// The refresh token.
    pub refresh_token: Token,
}

/// What `revokeSession` revokes.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RevokeSessionRequest {
    /// The access token.
    pub access_token: Token,
}

/// What `revokeUserSessions` revokes.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RevokeUserSessionsRequest {
    /// The user whose sessions all end.
    pub user_id: String,
}
