//! Passkeys in the client API, as the Web SDK's `passkey.signUp()` and
//! `passkey.signIn({token})` call them: registration options, the new credential,
//! authentication options and the assertion, each with the challenge token as Bearer;
//! and `passkey.signIn({action})`, a sign-in without a token: `POST /client/challenge`,
//! then the same options and assertion, with the tenant id as Basic user name.
//! The relying party's checks are the [`webauthn`](crate::webauthn) module's.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use http::HeaderMap;
use serde::{Deserialize, Serialize};

use super::super::super::error::HttpError;
use super::super::super::state::{Answered, Checked, RegistrationRequest, Shared, Started};
use super::super::super::tokens::{ChallengeClaims, Tokens};
use super::super::super::webauthn::options::AuthenticatorKind;
use super::super::super::webauthn::{AuthenticationCredential, RegistrationCredential};
use super::super::extract::{ApiJson, ApiQuery};
use super::{
    Caller, bearer, caller, managing_scope, may_add_authenticator, tenant, with_managing_scopes,
};
use authsignal::types::{UserAuthenticator, VerificationMethod};

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

/// The body of `authentication-options`: `{}` with a token, `{challengeId}` (from
/// `POST /client/challenge`) without one.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct AuthenticationOptionsRequest {
    #[serde(default)]
    challenge_id: Option<String>,
}

/// The body of `POST /client/challenge`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SignInChallengeRequest {
    action: String,
    #[serde(default)]
    idempotency_key: Option<String>,
}

/// The answer of `POST /client/challenge`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SignInChallengeResponse {
    challenge_id: String,
}

/// The query of `GET /client/user-authenticators/passkey`: the credential ids the device
/// remembers, comma-separated (a JavaScript array as text).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CredentialIdsQuery {
    credential_ids: String,
}

/// The answer of `GET /client/user-authenticators/passkey`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PasskeyOnDevice {
    credential_id: String,
    verified_at: Option<String>,
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
        let access_token = tokens.challenge(&claims.other, Some(&managing_scope(claims)));
        Self::with_token(access_token, answered, registered)
    }

    fn with_token(access_token: String, answered: Answered, registered: bool) -> Self {
        Self {
            is_verified: true,
            access_token,
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
    let started = start_registration(
        &shared,
        &headers,
        AuthenticatorKind::Passkey,
        &RegistrationRequest {
            username: request.username,
            display_name: request.display_name,
            authenticator_attachment: request.authenticator_attachment,
        },
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
    register(
        &shared,
        &headers,
        AuthenticatorKind::Passkey,
        &request.registration_credential,
        request.challenge_id.as_deref(),
    )
    .await
    .map(Json)
}

/// A registration of a credential of `kind` for the bearer token's user, whose token
/// needs `add:authenticators` if they are enrolled.
pub(crate) fn start_registration(
    shared: &Shared,
    headers: &HeaderMap,
    kind: AuthenticatorKind,
    request: &RegistrationRequest,
) -> Result<Started, HttpError> {
    let claims = bearer(shared, headers)?;
    let now = shared.clock.now();
    let mut store = shared.store();
    may_add_authenticator(&store, &claims)?;
    store.start_webauthn_registration(&claims, kind, request, now)
}

/// Registers the new credential of `kind` and completes the bearer token's action with
/// it.
pub(crate) async fn register(
    shared: &Shared,
    headers: &HeaderMap,
    kind: AuthenticatorKind,
    credential: &RegistrationCredential,
    challenge_id: Option<&str>,
) -> Result<PasskeyResponse, HttpError> {
    let claims = bearer(shared, headers)?;
    let tokens = shared.tokens();
    let checked = {
        let mut store = shared.store();
        may_add_authenticator(&store, &claims)?;
        store.finish_webauthn_registration(&claims, kind, credential, challenge_id, tokens.now)?
    };
    let answered = apply(shared, checked).await?;
    Ok(PasskeyResponse::verified(tokens, &claims, answered, true))
}

/// Checks an assertion by one of the token's user's credentials of `kind`; a good one
/// completes the token's action.
pub(crate) async fn assert_for_token(
    shared: &Shared,
    claims: &ChallengeClaims,
    kind: AuthenticatorKind,
    credential: &AuthenticationCredential,
    challenge_id: Option<&str>,
) -> Result<PasskeyResponse, HttpError> {
    let tokens = shared.tokens();
    let checked = shared.store().finish_webauthn_authentication(
        claims,
        kind,
        credential,
        challenge_id,
        tokens.now,
    )?;
    let answered = apply(shared, checked).await?;
    Ok(PasskeyResponse::verified(tokens, claims, answered, false))
}

/// Completes a checked ceremony once the action's `action.verify` accepts it (the store
/// unlocked meanwhile).
pub(crate) async fn apply(shared: &Shared, checked: Checked) -> Result<Answered, HttpError> {
    let checked = checked.verified().await?;
    let now = shared.clock.now();
    shared.store().apply_webauthn(checked, now)
}

/// `POST /client/challenge` with the tenant's Basic auth: a sign-in without a token for
/// `action`; the passkey that answers it names the user.
pub(crate) async fn sign_in_challenge(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    ApiJson(request): ApiJson<SignInChallengeRequest>,
) -> Result<Json<SignInChallengeResponse>, HttpError> {
    tenant(&shared, &headers)?;
    if request.action.trim().is_empty() {
        return Err(HttpError::invalid_request("action is required."));
    }
    let now = shared.clock.now();
    let challenge_id =
        shared
            .store()
            .start_sign_in(request.action.trim(), request.idempotency_key, now);
    Ok(Json(SignInChallengeResponse { challenge_id }))
}

/// `POST /client/user-authenticators/passkey/authentication-options`: with a token, an
/// assertion by one of its user's passkeys; without one, by any passkey, for the sign-in
/// `challengeId` names.
pub(crate) async fn authentication_options(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    ApiJson(request): ApiJson<AuthenticationOptionsRequest>,
) -> Result<Json<OptionsResponse>, HttpError> {
    let caller = caller(&shared, &headers)?;
    let now = shared.clock.now();
    let mut store = shared.store();
    let started = match caller {
        Caller::Token(claims) => {
            store.start_webauthn_authentication(&claims, AuthenticatorKind::Passkey, now)?
        }
        Caller::Tenant => {
            let challenge_id = request.challenge_id.ok_or_else(|| {
                HttpError::invalid_request("challengeId is required without a token.")
            })?;
            store.start_sign_in_authentication(&challenge_id, now)?
        }
    };
    Ok(Json(started.into()))
}

/// `POST /client/verify/passkey`: checks the assertion; a good one completes the token's
/// action, or (without a token) the sign-in's action for the passkey's user.
pub(crate) async fn verify(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    ApiJson(request): ApiJson<VerifyPasskeyRequest>,
) -> Result<Json<PasskeyResponse>, HttpError> {
    let caller = caller(&shared, &headers)?;
    let credential = &request.authentication_credential;
    let challenge_id = request.challenge_id.as_deref();
    let response = match caller {
        Caller::Token(claims) => {
            assert_for_token(
                &shared,
                &claims,
                AuthenticatorKind::Passkey,
                credential,
                challenge_id,
            )
            .await?
        }
        Caller::Tenant => {
            let tokens = shared.tokens();
            let checked = shared
                .store()
                .finish_sign_in(credential, challenge_id, tokens.now)?;
            let action = checked.target().clone();
            let answered = apply(&shared, checked).await?;
            let access_token = tokens.challenge(&action, Some(&with_managing_scopes(None)));
            PasskeyResponse::with_token(access_token, answered, false)
        }
    };
    Ok(Json(response))
}

/// `GET /client/user-authenticators/passkey?credentialIds=...` with the tenant's Basic
/// auth: the SDK's `isAvailableOnDevice`, which asks whether a passkey this device
/// remembers is still registered. The first that is; 404 when none is.
pub(crate) async fn on_device(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    ApiQuery(query): ApiQuery<CredentialIdsQuery>,
) -> Result<Json<PasskeyOnDevice>, HttpError> {
    tenant(&shared, &headers)?;
    let ids: Vec<&str> = query.credential_ids.split(',').map(str::trim).collect();
    let store = shared.store();
    let found = store
        .authenticators
        .iter()
        .filter(|a| a.method == VerificationMethod::Passkey && a.is_verified())
        .find_map(|a| {
            let passkey = a.passkey.as_ref()?;
            ids.contains(&passkey.credential_id.as_str())
                .then(|| PasskeyOnDevice {
                    credential_id: passkey.credential_id.clone(),
                    verified_at: a.verified_at.map(|at| at.rfc3339()),
                })
        })
        .ok_or_else(|| HttpError::not_found("No passkey with these credential ids."))?;
    Ok(Json(found))
}
