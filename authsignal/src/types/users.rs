//! Users: `getUser`, `queryUsers`, `updateUser`.

use serde::{Deserialize, Serialize};

use super::{CustomData, Token, VerificationMethod};

/// A user as `getUser` returns it. An unknown user is not an error: it comes back
/// with `is_enrolled == false`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct User {
    /// Whether the user has at least one authenticator.
    #[serde(default)]
    pub is_enrolled: bool,
    /// The user's email address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Whether the email address was verified.
    #[serde(default)]
    pub email_verified: bool,
    /// The user's phone number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone_number: Option<String>,
    /// Whether the phone number was verified.
    #[serde(default)]
    pub phone_number_verified: bool,
    /// The user's username.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// The user's display name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// Custom user data.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub custom: Option<CustomData>,
    /// The methods the user has enrolled.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enrolled_verification_methods: Option<Vec<VerificationMethod>>,
    /// The methods the user may use.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allowed_verification_methods: Option<Vec<VerificationMethod>>,
    /// The method offered first.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default_verification_method: Option<VerificationMethod>,
    /// The user's locale (e.g. `en`), from `updateUser` or a tracked action.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locale: Option<String>,
}

/// The search of `queryUsers`. Only the fields that are set go into the query string.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QueryUsersRequest {
    /// Match on username.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// Match on email address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Match on phone number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone_number: Option<String>,
    /// Match on the user of a token.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<Token>,
    /// The page size.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    /// Where the previous page ended.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_evaluated_user_id: Option<String>,
}

/// One user found by `queryUsers`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct UserSummary {
    /// The user's id.
    pub user_id: String,
    /// The user's email address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Whether the email address was verified.
    #[serde(default)]
    pub email_verified: bool,
    /// The user's phone number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone_number: Option<String>,
    /// Whether the phone number was verified.
    #[serde(default)]
    pub phone_number_verified: bool,
    /// The user's username.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
}

/// The answer of `queryUsers`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct QueryUsersResponse {
    /// The users found.
    #[serde(default)]
    pub users: Vec<UserSummary>,
    /// Pass this back as `last_evaluated_user_id` for the next page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_evaluated_user_id: Option<String>,
    /// The decoded claims of the `token` searched for, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_payload: Option<serde_json::Value>,
}

/// The changes `updateUser` sends: only the fields that are set are sent, the others are
/// left as they are.
pub type UpdateUserRequest = UserAttributes;

/// A user's attributes: what `updateUser` sends (as [`UpdateUserRequest`]) and what it
/// answers.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserAttributes {
    /// The email address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Whether the email address is verified.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email_verified: Option<bool>,
    /// The phone number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone_number: Option<String>,
    /// Whether the phone number is verified.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone_number_verified: Option<bool>,
    /// The username.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// The display name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// Custom user data.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub custom: Option<CustomData>,
    /// The locale.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub locale: Option<String>,
    /// The method offered first, among those the user has enrolled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_verification_method: Option<VerificationMethod>,
}
