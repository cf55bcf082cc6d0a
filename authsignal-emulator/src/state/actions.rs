//! Actions: `track`, `validateChallenge`, `getAction`, `updateAction`, `queryUserActions`.

use serde::Deserialize;

use super::super::clock::Timestamp;
use super::super::error::HttpError;
use super::super::rules::{Outcome, RuleInput};
use super::super::tokens::{ActionRef, TokenError, Tokens};
use super::{ActionRecord, Store};
use authsignal::types::{
    ActionDetails, ActionRule, TrackAttributes, TrackResponse, UserActionState, UserActionSummary,
    ValidateChallengeRequest, ValidateChallengeResponse,
};

/// The `/validate` answers that are not about an action's state.
pub(crate) mod validation_errors {
    /// The token's user is not the one given.
    pub(crate) const USER: &str = "User is invalid.";
    /// The token's action is not the one given.
    pub(crate) const ACTION: &str = "Action is invalid.";
    /// Not a token this emulator signed, or its action no longer exists.
    pub(crate) const INVALID: &str = "Token is invalid.";
    /// A token past its `exp`.
    pub(crate) const EXPIRED: &str = "Token has expired.";
}

/// The query of `queryUserActions` as it arrives (`codes` comma-joined).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ActionsQuery {
    from_date: Option<String>,
    codes: Option<String>,
    state: Option<String>,
}

/// Whether `code` is an action code as the API documents them: `^[a-zA-Z0-9_-]{1,64}$`.
fn is_action_code(code: &str) -> bool {
    (1..=64).contains(&code.len())
        && code
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

impl Store {
    /// `track`: records the action and decides its state by the action's rules. The
    /// answer carries a token and a pre-built UI `url` (from `ui_url`) in every state.
    ///
    /// The same idempotency key tracked again for the same user and action answers what
    /// the first `track` answered, without recording anything.
    pub(crate) fn track(
        &mut self,
        user_id: &str,
        code: &str,
        attributes: TrackAttributes,
        tokens: Tokens<'_>,
        ui_url: impl Fn(&str) -> String,
    ) -> Result<TrackResponse, HttpError> {
        if !is_action_code(code) {
            return Err(HttpError::invalid_request(
                "The action code must match ^[a-zA-Z0-9_-]{1,64}$.",
            ));
        }
        let key = attributes
            .idempotency_key
            .clone()
            .filter(|key| !key.is_empty())
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        if let Some(tracked) = self
            .action(user_id, code, &key)
            .and_then(|action| action.tracked.clone())
        {
            return Ok(tracked);
        }

        let user = self.user_mut(user_id);
        for (field, value) in [
            (&mut user.email, &attributes.email),
            (&mut user.phone_number, &attributes.phone_number),
            (&mut user.username, &attributes.username),
        ] {
            if field.is_none() {
                field.clone_from(value);
            }
        }
        if attributes.locale.is_some() {
            user.locale.clone_from(&attributes.locale);
        }
        let is_enrolled = self.is_enrolled(user_id);
        let config = self.config.action(code);
        let (outcome, rule) = config.decide(&RuleInput {
            custom: attributes.custom.as_ref(),
            ip_address: attributes.ip_address.as_deref(),
            device_id: attributes.device_id.as_deref(),
            is_enrolled,
        });
        // Authsignal lets an unenrolled user through rather than challenge them with
        // nothing, unless the action is set to make them enroll.
        let state =
            if outcome == Outcome::ChallengeRequired && !is_enrolled && !config.prompt_enrollment {
                UserActionState::Allow
            } else {
                outcome.state()
            };
        let rule = rule.cloned();

        let action = ActionRef {
            user_id: user_id.to_owned(),
            action_code: code.to_owned(),
            idempotency_key: key.clone(),
        };
        let token = tokens.challenge(&action, attributes.scope.as_deref());
        // A url in every state, as Authsignal answers: the pre-built UI decides what to
        // show (a challenge, an enrollment, or nothing to verify).
        let url = ui_url(&token);
        let response = wire!(@from TrackResponse::new(key.clone(), state.clone()), {
            url: Some(url),
            token: Some(token.into()),
            is_enrolled,
            enrolled_verification_methods: Some(self.enrolled_methods(user_id)),
            allowed_verification_methods: Some(self.allowed_methods(user_id)),
            default_verification_method: self.default_method(user_id),
            rule_ids: Some(rule.iter().map(|rule| rule.id.clone()).collect()),});
        let now = tokens.now;
        if let Some(device) = attributes.device_id.as_deref().filter(|d| !d.is_empty()) {
            self.saw_device(user_id, device, now);
        }
        self.actions.push(ActionRecord {
            rule,
            redirect_url: attributes.redirect_url,
            redirect_to_settings: attributes.redirect_to_settings == Some(true),
            device_id: attributes.device_id,
            outcome,
            ip_address: attributes.ip_address,
            email: attributes.email,
            phone_number: attributes.phone_number,
            custom: attributes.custom,
            scope: attributes.scope,
            tracked: Some(response.clone()),
            ..ActionRecord::new(user_id, code, &key, state, now)
        });
        self.notify_action(user_id, code, &key);
        Ok(response)
    }

    /// `validateChallenge`. It reads, never consumes: a token validates as often as it is
    /// presented, and answers the state its action has now.
    pub(crate) fn validate(
        &self,
        request: &ValidateChallengeRequest,
        tokens: Tokens<'_>,
    ) -> ValidateChallengeResponse {
        let invalid = |error: &str| {
            wire!(ValidateChallengeResponse {
                is_valid: false,
                error: Some(error.to_owned())
            })
        };
        let claims = match tokens.read_challenge(request.token.as_str()) {
            Ok(claims) => claims,
            Err(TokenError::Expired) => return invalid(validation_errors::EXPIRED),
            Err(TokenError::Invalid) => return invalid(validation_errors::INVALID),
        };
        let ActionRef {
            user_id,
            action_code,
            idempotency_key,
        } = &claims.other;
        if request
            .user_id
            .as_ref()
            .is_some_and(|given| given != user_id)
        {
            return invalid(validation_errors::USER);
        }
        if request
            .action
            .as_ref()
            .is_some_and(|given| given != action_code)
        {
            return invalid(validation_errors::ACTION);
        }
        let Some(action) = self.action(user_id, action_code, idempotency_key) else {
            return invalid(validation_errors::INVALID);
        };
        let succeeded = action.state == UserActionState::ChallengeSucceeded;
        wire!(ValidateChallengeResponse {
            is_valid: succeeded,
            state: Some(action.state.clone()),
            state_updated_at: succeeded.then(|| action.state_updated_at.rfc3339()),
            user_id: Some(user_id.clone()),
            action: Some(action_code.clone()),
            idempotency_key: Some(idempotency_key.clone()),
            verification_method: if succeeded {
                action.verification_method.clone()
            } else {
                None
            },
            veriff_session_id: None,
            error: None,
        })
    }

    fn details(action: &ActionRecord) -> ActionDetails {
        wire!(@from ActionDetails::new(action.state.clone()), {
            state_updated_at: Some(action.state_updated_at.rfc3339()),
            created_at: Some(action.created_at.rfc3339()),
            verification_method: action.verification_method.clone(),
            rules: action.rule.as_ref().map(|rule| {
                vec![wire!(ActionRule {
                    rule_id: rule.id.clone(),
                    name: rule.name.clone().unwrap_or_else(|| rule.id.clone()),
                    description: rule.description.clone(),})]
            }),
            rule_ids: Some(action.rule.iter().map(|rule| rule.id.clone()).collect()),
            // Always present, as the Python SDK's live test asserts; what a tenant's
            // rules would write there is theirs, so the emulator's is an empty object.
            output: Some(serde_json::Value::Object(serde_json::Map::new())),})
    }

    /// `getAction`; an unknown action is 404.
    pub(crate) fn get_action(
        &self,
        user_id: &str,
        code: &str,
        key: &str,
    ) -> Result<ActionDetails, HttpError> {
        self.action(user_id, code, key)
            .map(Self::details)
            .ok_or_else(|| HttpError::not_found("The action was not found."))
    }

    /// `updateAction`: sets one of the documented states (an unknown one is 400).
    pub(crate) fn update_action(
        &mut self,
        user_id: &str,
        code: &str,
        key: &str,
        state: UserActionState,
        now: Timestamp,
    ) -> Result<ActionDetails, HttpError> {
        if matches!(state, UserActionState::Other(_)) {
            return Err(HttpError::invalid_request(format!(
                "{state} is not an action state."
            )));
        }
        let action = self
            .action_mut(user_id, code, key)
            .ok_or_else(|| HttpError::not_found("The action was not found."))?;
        action.set_state(state, now);
        let details = Self::details(action);
        self.notify_action(user_id, code, key);
        Ok(details)
    }

    /// `queryUserActions`: newest first, filtered by `fromDate`, `codes` and `state`.
    pub(crate) fn query_user_actions(
        &self,
        user_id: &str,
        query: &ActionsQuery,
    ) -> Result<Vec<UserActionSummary>, HttpError> {
        let from = match query.from_date.as_deref() {
            Some(text) => Some(Timestamp::parse_rfc3339(text).ok_or_else(|| {
                HttpError::invalid_request("fromDate must be an ISO 8601 date or date-time.")
            })?),
            None => None,
        };
        let codes: Option<Vec<&str>> = query.codes.as_deref().map(|codes| {
            codes
                .split(',')
                .map(str::trim)
                .filter(|code| !code.is_empty())
                .collect()
        });
        let state = query.state.as_deref().map(UserActionState::from);
        Ok(self
            .actions
            .of_user(user_id)
            .iter()
            .rev()
            .filter(|action| from.is_none_or(|from| action.created_at >= from))
            .filter(|action| {
                codes
                    .as_ref()
                    .is_none_or(|codes| codes.contains(&action.code.as_str()))
            })
            .filter(|action| state.as_ref().is_none_or(|state| *state == action.state))
            .map(|action| {
                wire!(@from UserActionSummary::new(
                action.code.clone(),
                action.idempotency_key.clone(),
                action.state.clone(),
            ), {
                created_at: Some(action.created_at.rfc3339()),
                updated_at: Some(action.updated_at.rfc3339()),
                state_updated_at: Some(action.state_updated_at.rfc3339()),
                verification_method: action.verification_method.clone(),
                verified_by_authenticator_id: action.verified_by.clone(),})
            })
            .collect())
    }
}
