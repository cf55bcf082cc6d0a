//! Passkeys in the client API, as the Web SDK's `passkey.signUp()` and
//! `passkey.signIn({token})` call them: registration options, the new credential,
//! authentication options and the assertion, each with the challenge token as Bearer.
//! The relying party's checks are the [`webauthn`](crate::webauthn) module's.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use http::HeaderMap;
use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};

use super::super::super::error::HttpError;
use super::super::super::state::{Answered, RegistrationRequest, Shared, Started};
use super::super::super::tokens::{ChallengeClaims, Tokens};
use super::super::super::webauthn::options::AuthenticatorKind;
use super::super::super::webauthn::{AuthenticationCredential, RegistrationCredential};
use super::super::extract::ApiJson;
use super::{bearer, managing_scope, may_add_authenticator};
use authsignal::types::UserAuthenticator;

/// The body of `registration-options`: what `signUp` passes on.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct RegistrationOptionsRequest {
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    display_name: Option<String>,
    #[serde(default)]
    authenticator_attachment: Option<String>,
}

/// The answer of both options routes.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct OptionsResponse {
    challenge_id: String,
    options: serde_json::Value,
}

impl From<Started> for OptionsResponse {
    fn from(started: Started) -> Self {
        Self {
            challenge_id: started.challenge_id,
            options: started.options,
        }
    }
}

/// The body of `POST /client/user-authenticators/passkey`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct AddPasskeyRequest {
    registration_credential: RegistrationCredential,
    #[serde(default)]
    challenge_id: Option<String>,
}

/// The body of `POST /client/verify/passkey`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct VerifyPasskeyRequest {
    authentication_credential: AuthenticationCredential,
    #[serde(default)]
    challenge_id: Option<String>,
}

/// What a registered credential or a good assertion answers.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PasskeyResponse {
    is_verified: bool,
    access_token: String,
    user_id: String,
    user_authenticator_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    user_authenticator: Option<UserAuthenticator>,
    #[serde(skip_serializing_if = "Option::is_none")]
    username: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    user_display_name: Option<String>,
}

impl PasskeyResponse {
    /// Verified: a new token for the same action, which may manage authenticators (as a
    /// verified code's). The new authenticator is in the answer of a registration only.
    pub(crate) fn verified(
        tokens: Tokens<'_>,
        claims: &ChallengeClaims,
        answered: Answered,
        registered: bool,
    ) -> Self {
        Self {
            is_verified: true,
            access_token: tokens.challenge(&claims.other, Some(&managing_scope(claims))),
            user_id: answered.user_id,
            user_authenticator_id: answered.authenticator.user_authenticator_id.clone(),
            user_authenticator: registered.then_some(answered.authenticator),
            username: answered.username,
            user_display_name: answered.display_name,
        }
    }
}

/// `POST /client/user-authenticators/passkey/registration-options`: a registration for
/// the token's user. An enrolled user's token needs `add:authenticators`.
pub(crate) async fn registration_options(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    ApiJson(request): ApiJson<RegistrationOptionsRequest>,
) -> Result<Json<OptionsResponse>, HttpError> {
    let claims = bearer(&shared, &headers)?;
    let now = shared.clock.now();
    let mut store = shared.store();
    may_add_authenticator(&store, &claims)?;
    let started = store.start_webauthn_registration(
        &claims,
        AuthenticatorKind::Passkey,
        &RegistrationRequest {
            username: request.username,
            display_name: request.display_name,
            authenticator_attachment: request.authenticator_attachment,
        },
        now,
    )?;
    Ok(Json(started.into()))
}

/// `POST /client/user-authenticators/passkey`: registers the new credential and completes
/// the token's action with it.
pub(crate) async fn add(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    ApiJson(request): ApiJson<AddPasskeyRequest>,
) -> Result<Json<PasskeyResponse>, HttpError> {
    let claims = bearer(&shared, &headers)?;
    let tokens = shared.tokens();
    let mut store = shared.store();
    may_add_authenticator(&store, &claims)?;
    let answered = store.finish_webauthn_registration(
        &claims,
        AuthenticatorKind::Passkey,
        &request.registration_credential,
        request.challenge_id.as_deref(),
        tokens.now,
    )?;
    Ok(Json(PasskeyResponse::verified(
        tokens, &claims, answered, true,
    )))
}

/// `POST /client/user-authenticators/passkey/authentication-options`: an assertion by
/// one of the token's user's passkeys.
pub(crate) async fn authentication_options(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    // `{}` with a token (a `challengeId` only matters to a sign-in without one).
    ApiJson(_): ApiJson<IgnoredAny>,
) -> Result<Json<OptionsResponse>, HttpError> {
    let claims = bearer(&shared, &headers)?;
    let now = shared.clock.now();
    let started =
        shared
            .store()
            .start_webauthn_authentication(&claims, AuthenticatorKind::Passkey, now)?;
    Ok(Json(started.into()))
}

/// `POST /client/verify/passkey`: checks the assertion; a good one completes the token's
/// action.
pub(crate) async fn verify(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    ApiJson(request): ApiJson<VerifyPasskeyRequest>,
) -> Result<Json<PasskeyResponse>, HttpError> {
    let claims = bearer(&shared, &headers)?;
    let tokens = shared.tokens();
    let answered = shared.store().finish_webauthn_authentication(
        &claims,
        AuthenticatorKind::Passkey,
        &request.authentication_credential,
        request.challenge_id.as_deref(),
        tokens.now,
    )?;
    Ok(Json(PasskeyResponse::verified(
        tokens, &claims, answered, false,
    )))
}
