//! Sessions: `createSession`, `validateSession`, `refreshSession`, `revokeSession`,
//! `revokeUserSessions`.
//!
//! A session starts from a challenge token whose action has succeeded. Its access token is
//! a JWT (see [`tokens`](super::super::tokens)); its refresh token is opaque and good for
//! one refresh: refreshing replaces both. Every failure is 400 `invalid_credential`.

use std::time::Duration;

use http::StatusCode;

use super::super::error::HttpError;
use super::super::tokens::{AccessError, Clients, Tokens};
use super::{SessionRecord, Store};
use authsignal::types::{
    CreateSessionRequest, RefreshSessionRequest, RevokeSessionRequest, SessionTokens, SessionUser,
    UserActionState, ValidateSessionRequest, ValidateSessionResponse,
};

/// How long a refresh token is good for.
const REFRESH_LIFETIME: Duration = Duration::from_secs(30 * 24 * 60 * 60);

fn invalid_credential(description: &str) -> HttpError {
    HttpError::new(StatusCode::BAD_REQUEST, "invalid_credential", description)
}

fn refresh_token() -> String {
    format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    )
}

impl Store {
    /// `createSession`: a challenge token of a succeeded action becomes a session.
    pub(crate) fn create_session(
        &mut self,
        request: &CreateSessionRequest,
        tokens: Tokens<'_>,
    ) -> Result<SessionTokens, HttpError> {
        let claims = tokens
            .read_challenge(request.token.as_str())
            .map_err(|_| invalid_credential("The token is invalid or has expired."))?;
        let target = &claims.other;
        if request
            .action
            .as_ref()
            .is_some_and(|action| *action != target.action_code)
        {
            return Err(invalid_credential("Action is invalid."));
        }
        let action = self
            .action(
                &target.user_id,
                &target.action_code,
                &target.idempotency_key,
            )
            .filter(|action| action.state == UserActionState::ChallengeSucceeded)
            .ok_or_else(|| invalid_credential("The challenge has not succeeded."))?;
        let session = SessionRecord {
            id: uuid::Uuid::new_v4().to_string(),
            user_id: target.user_id.clone(),
            client_id: request.client_id.clone(),
            verification_method: action.verification_method.clone(),
            refresh_token: refresh_token(),
            refresh_expires_at: tokens.now.plus(REFRESH_LIFETIME),
            revoked: false,
        };
        let (access_token, _) = tokens.access(&session.user_id, &session.id, &session.client_id);
        let answer = wire!(SessionTokens {
            access_token: access_token.into(),
            refresh_token: session.refresh_token.clone().into(),
        });
        self.sessions.push(session);
        Ok(answer)
    }

    /// `validateSession`: an access token signed with the session key, unexpired, whose
    /// `aud` is one of `clientIds` when given, of a live session.
    pub(crate) fn validate_session(
        &self,
        request: &ValidateSessionRequest,
        tokens: Tokens<'_>,
    ) -> Result<ValidateSessionResponse, HttpError> {
        let clients = match &request.client_ids {
            Some(ids) => Clients::OneOf(ids),
            None => Clients::Any,
        };
        let claims = tokens
            .read_access(request.access_token.as_str(), clients, false)
            .map_err(|err| match err {
                AccessError::OtherClient => {
                    invalid_credential("The session belongs to another client.")
                }
                AccessError::Token(_) => {
                    invalid_credential("The access token is invalid or has expired.")
                }
            })?;
        let session = self
            .sessions
            .iter()
            .find(|s| s.id == claims.sid && !s.revoked)
            .ok_or_else(|| invalid_credential("The session has been revoked."))?;
        let user = self.user(&session.user_id);
        Ok(wire!(ValidateSessionResponse {
            user: wire!(SessionUser {
                user_id: session.user_id.clone(),
                email: user.and_then(|u| u.email.clone()),
                phone_number: user.and_then(|u| u.phone_number.clone()),
                username: user.and_then(|u| u.username.clone()),
                display_name: user.and_then(|u| u.display_name.clone()),
                custom: user.and_then(|u| u.custom.clone()),
            }),
            expires_at: i64::try_from(claims.exp).unwrap_or(i64::MAX),
            verification_method: session.verification_method.clone(),
        }))
    }

    /// `refreshSession`: a new access token and a new refresh token; the old refresh token
    /// is spent.
    pub(crate) fn refresh_session(
        &mut self,
        request: &RefreshSessionRequest,
        tokens: Tokens<'_>,
    ) -> Result<SessionTokens, HttpError> {
        let session = self
            .sessions
            .iter_mut()
            .find(|s| !s.revoked && s.refresh_token == request.refresh_token.as_str())
            .filter(|s| tokens.now < s.refresh_expires_at)
            .ok_or_else(|| invalid_credential("The refresh token is invalid or has expired."))?;
        session.refresh_token = refresh_token();
        session.refresh_expires_at = tokens.now.plus(REFRESH_LIFETIME);
        let (access_token, _) = tokens.access(&session.user_id, &session.id, &session.client_id);
        Ok(wire!(SessionTokens {
            access_token: access_token.into(),
            refresh_token: session.refresh_token.clone().into(),
        }))
    }

    /// `revokeSession`: ends the session of an access token (expired or not).
    pub(crate) fn revoke_session(
        &mut self,
        request: &RevokeSessionRequest,
        tokens: Tokens<'_>,
    ) -> Result<(), HttpError> {
        let claims = tokens
            .read_access(request.access_token.as_str(), Clients::Any, true)
            .map_err(|_| invalid_credential("The access token is invalid."))?;
        for session in self.sessions.iter_mut().filter(|s| s.id == claims.sid) {
            session.revoked = true;
        }
        Ok(())
    }

    /// `revokeUserSessions`: ends every session of a user.
    pub(crate) fn revoke_user_sessions(&mut self, user_id: &str) {
        for session in self.sessions.iter_mut().filter(|s| s.user_id == user_id) {
            session.revoked = true;
        }
    }
}
