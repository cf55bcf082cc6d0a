//! Security keys in the client API, as the Web SDK's `securityKey.enroll()` and
//! `securityKey.verify()` call them: the same relying party as passkeys, a security key's
//! own authenticator type (`SECURITY_KEY`), and the SDK's own shapes: the options come
//! back bare, and the credential is the whole body (no `challengeId`: the challenge in
//! the client data names the ceremony).

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use http::HeaderMap;
use serde::de::IgnoredAny;

use super::super::super::error::HttpError;
use super::super::super::state::{RegistrationRequest, Shared};
use super::super::super::webauthn::options::AuthenticatorKind;
use super::super::super::webauthn::{AuthenticationCredential, RegistrationCredential};
use super::super::extract::ApiJson;
use super::bearer;
use super::passkey::{PasskeyResponse, assert_for_token, register, start_registration};

/// `POST /client/user-authenticators/security-key/registration-options`: the creation
/// options for a security key of the token's user.
pub(crate) async fn registration_options(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    ApiJson(_): ApiJson<IgnoredAny>,
) -> Result<Json<serde_json::Value>, HttpError> {
    let started = start_registration(
        &shared,
        &headers,
        AuthenticatorKind::SecurityKey,
        &RegistrationRequest::default(),
    )?;
    Ok(Json(started.options))
}

/// `POST /client/user-authenticators/security-key`: registers the key and completes the
/// token's action with it.
pub(crate) async fn add(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    ApiJson(credential): ApiJson<RegistrationCredential>,
) -> Result<Json<PasskeyResponse>, HttpError> {
    register(
        &shared,
        &headers,
        AuthenticatorKind::SecurityKey,
        &credential,
        None,
    )
    .await
    .map(Json)
}

/// `POST /client/user-authenticators/security-key/authentication-options`: the request
/// options for the token's user's security keys.
pub(crate) async fn authentication_options(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    ApiJson(_): ApiJson<IgnoredAny>,
) -> Result<Json<serde_json::Value>, HttpError> {
    let claims = bearer(&shared, &headers)?;
    let now = shared.clock.now();
    let started = shared.store().start_webauthn_authentication(
        &claims,
        AuthenticatorKind::SecurityKey,
        now,
    )?;
    Ok(Json(started.options))
}

/// `POST /client/verify/security-key`: checks the assertion; a good one completes the
/// token's action.
pub(crate) async fn verify(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    ApiJson(credential): ApiJson<AuthenticationCredential>,
) -> Result<Json<PasskeyResponse>, HttpError> {
    let claims = bearer(&shared, &headers)?;
    assert_for_token(
        &shared,
        &claims,
        AuthenticatorKind::SecurityKey,
        &credential,
        None,
    )
    .await
    .map(Json)
}
