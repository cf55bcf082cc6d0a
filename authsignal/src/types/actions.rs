//! Actions: `track`, `validateChallenge`, `getAction`, `queryUserActions`, `updateAction`.

use serde::{Deserialize, Serialize};

use super::{CustomData, Token, UserActionState, VerificationMethod};

/// The context of a tracked action. Every field is optional; those left `None` are not sent,
/// and an empty set of attributes is sent as `{}`.
///
/// The client always sends an `idempotency_key`: when this one is `None` it generates one,
/// so that a retried `track` cannot record the action twice.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TrackAttributes {
    /// Identifies this attempt of the action; also what a retry repeats.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idempotency_key: Option<String>,
    /// Where the pre-built UI sends the user back, with `?token=` appended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redirect_url: Option<String>,
    /// Open the pre-built UI on the user's settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redirect_to_settings: Option<bool>,
    /// The client's IP address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_address: Option<String>,
    /// The client's `User-Agent`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
    /// A device identifier of the app's choosing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_id: Option<String>,
    /// Space-separated scopes the resulting token grants (`add:authenticators`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// The user's email address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// The user's phone number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone_number: Option<String>,
    /// The user's username.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// Values the tenant's rules can test, e.g. an amount. Keys are sent as given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom: Option<CustomData>,
    /// A challenge already started with `challenge`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub challenge_id: Option<String>,
    /// The locale of the pre-built UI.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locale: Option<String>,
    /// A custom domain of the pre-built UI.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_domain: Option<String>,
}

/// The answer of `track`. Its `Debug` shows neither the token nor the `token` of the
/// pre-built UI's `url`: a handler that logs it logs no credential.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct TrackResponse {
    /// The idempotency key the action was recorded under.
    pub idempotency_key: String,
    /// What to do next.
    pub state: UserActionState,
    /// The pre-built UI, when a challenge is required.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// A short-lived token: a custom UI uses it as its Bearer token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<Token>,
    /// Whether the user has at least one authenticator.
    #[serde(default)]
    pub is_enrolled: bool,
    /// The methods the user has enrolled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enrolled_verification_methods: Option<Vec<VerificationMethod>>,
    /// The methods the user may use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_verification_methods: Option<Vec<VerificationMethod>>,
    /// The method offered first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_verification_method: Option<VerificationMethod>,
    /// The rules that decided the state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule_ids: Option<Vec<String>>,
}

impl TrackResponse {
    /// An answer with the given key and state and nothing else: for tests and for servers
    /// that answer as Authsignal does (the emulator). Set the other fields after.
    pub fn new(idempotency_key: impl Into<String>, state: UserActionState) -> Self {
        Self {
            idempotency_key: idempotency_key.into(),
            state,
            url: None,
            token: None,
            is_enrolled: false,
            enrolled_verification_methods: None,
            allowed_verification_methods: None,
            default_verification_method: None,
            rule_ids: None,
        }
    }
}

impl std::fmt::Debug for TrackResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrackResponse")
            .field("idempotency_key", &self.idempotency_key)
            .field("state", &self.state)
            .field(
                "url",
                &self.url.as_deref().map(crate::safe_text::redact_url_token),
            )
            .field("token", &self.token)
            .field("is_enrolled", &self.is_enrolled)
            .field(
                "enrolled_verification_methods",
                &self.enrolled_verification_methods,
            )
            .field(
                "allowed_verification_methods",
                &self.allowed_verification_methods,
            )
            .field(
                "default_verification_method",
                &self.default_verification_method,
            )
            .field("rule_ids", &self.rule_ids)
            .finish()
    }
}

/// What `validateChallenge` checks.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ValidateChallengeRequest {
    /// The token the user came back with.
    pub token: Token,
    /// The user the token must belong to; `None` for sign-in, where the user is learnt
    /// from the answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// The action the token must be for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
}

/// The answer of `validateChallenge`.
///
/// Older answers name the action `actionCode`; either name decodes into
/// [`action`](Self::action). An answer that carries both names with different values does
/// not decode at all: which action the token is for cannot be told, and reading either one
/// would let the other pass unchecked. The client reports it as
/// [`Error::Contradictory`](crate::Error::Contradictory), and the step-up gate refuses the
/// token as it refuses a token for another action (403).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", try_from = "ValidateChallengeWire")]
#[non_exhaustive]
pub struct ValidateChallengeResponse {
    /// Whether the token is valid. Check [`state`](Self::state) as well.
    pub is_valid: bool,
    /// The state of the action the token is for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<UserActionState>,
    /// When that state was reached (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state_updated_at: Option<String>,
    /// The user the token belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// The action the token is for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    /// The idempotency key of the tracked action.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idempotency_key: Option<String>,
    /// How the user was verified.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verification_method: Option<VerificationMethod>,
    /// The Veriff identity-verification session, when the user was verified with Veriff.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub veriff_session_id: Option<String>,
    /// Why the token is not valid, e.g. `"User is invalid."`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The wire shape, which may carry `action`, `actionCode` or both.
/// (A serde alias would reject an answer that carries both, even when they agree.)
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ValidateChallengeWire {
    #[serde(default)]
    is_valid: bool,
    state: Option<UserActionState>,
    state_updated_at: Option<String>,
    user_id: Option<String>,
    action: Option<String>,
    action_code: Option<String>,
    idempotency_key: Option<String>,
    verification_method: Option<VerificationMethod>,
    veriff_session_id: Option<String>,
    error: Option<String>,
}

/// Why a `validateChallenge` answer naming its action twice, differently, is refused.
pub(crate) const ACTION_NAMES_DISAGREE: &str = "`action` and `actionCode` name different actions";

impl TryFrom<ValidateChallengeWire> for ValidateChallengeResponse {
    type Error = &'static str;

    fn try_from(wire: ValidateChallengeWire) -> Result<Self, Self::Error> {
        let action = match (wire.action, wire.action_code) {
            (Some(action), Some(code)) if action != code => return Err(ACTION_NAMES_DISAGREE),
            (action, code) => action.or(code),
        };
        Ok(Self {
            is_valid: wire.is_valid,
            state: wire.state,
            state_updated_at: wire.state_updated_at,
            user_id: wire.user_id,
            action,
            idempotency_key: wire.idempotency_key,
            verification_method: wire.verification_method,
            veriff_session_id: wire.veriff_session_id,
            error: wire.error,
        })
    }
}

/// A rule that matched an action.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ActionRule {
    /// The rule's id.
    pub rule_id: String,
    /// The rule's name.
    #[serde(default)]
    pub name: String,
    /// The rule's description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// A tracked action, as `getAction` and `updateAction` return it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ActionDetails {
    /// Its state.
    pub state: UserActionState,
    /// When that state was reached (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state_updated_at: Option<String>,
    /// When it was tracked (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
    /// How the user was verified, if a challenge was completed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verification_method: Option<VerificationMethod>,
    /// The rules that matched.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rules: Option<Vec<ActionRule>>,
    /// The ids of the rules that matched.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule_ids: Option<Vec<String>>,
    /// Rule output, free-form.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<serde_json::Value>,
}

impl ActionDetails {
    /// An action in `state` and nothing else: for tests and for servers that answer as
    /// Authsignal does. Set the other fields after.
    pub fn new(state: UserActionState) -> Self {
        Self {
            state,
            state_updated_at: None,
            created_at: None,
            verification_method: None,
            rules: None,
            rule_ids: None,
            output: None,
        }
    }
}

/// The filter of `queryUserActions`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QueryUserActionsRequest {
    /// Only actions created at or after this instant (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_date: Option<String>,
    /// Only these action codes (sent comma-joined).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub codes: Vec<String>,
    /// Only actions in this state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<UserActionState>,
}

/// One action found by `queryUserActions`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct UserActionSummary {
    /// The action code (`actionCode` on the wire).
    #[serde(rename = "actionCode")]
    pub action: String,
    /// Its idempotency key.
    pub idempotency_key: String,
    /// When it was tracked (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
    /// When it last changed (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<String>,
    /// Its state.
    pub state: UserActionState,
    /// When that state was reached (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state_updated_at: Option<String>,
    /// How the user was verified.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verification_method: Option<VerificationMethod>,
    /// The authenticator that verified the user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verified_by_authenticator_id: Option<String>,
}

impl UserActionSummary {
    /// An action of code `action` with its key and state and nothing else: for tests and
    /// for servers that answer as Authsignal does. Set the other fields after.
    pub fn new(
        action: impl Into<String>,
        idempotency_key: impl Into<String>,
        state: UserActionState,
    ) -> Self {
        Self {
            action: action.into(),
            idempotency_key: idempotency_key.into(),
            created_at: None,
            updated_at: None,
            state,
            state_updated_at: None,
            verification_method: None,
            verified_by_authenticator_id: None,
        }
    }
}

/// The change of `updateAction`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UpdateActionRequest {
    /// The new state, e.g. `REVIEW_SUCCEEDED` after a manual review.
    pub state: UserActionState,
}
