//! The client API a custom UI calls with the track token as its Bearer token (not the
//! tenant secret): enroll an authenticator app, verify a code.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use http::header::AUTHORIZATION;
use http::{HeaderMap, StatusCode};
use serde::{Deserialize, Serialize};

use super::super::error::HttpError;
use super::super::state::{Shared, TotpAttempt};
use super::super::tokens::ChallengeClaims;
use super::extract::ApiJson;
use crate::VerificationFailureReason;

/// The scope an enrolled user's token needs to add an authenticator.
const ADD_AUTHENTICATORS: &str = "add:authenticators";

/// The body of `POST /client/verify/totp`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct VerifyTotpRequest {
    verification_code: String,
}

/// The answer of `POST /client/verify/totp`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct VerifyTotpResponse {
    is_verified: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    access_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    failure_reason: Option<VerificationFailureReason>,
}

/// The answer of `POST /client/user-authenticators/totp`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct EnrollTotpResponse {
    uri: String,
    secret: String,
    user_authenticator_id: String,
    user_id: String,
}

/// The claims of the request's Bearer challenge token; 401 without a good one.
fn bearer(shared: &Shared, headers: &HeaderMap) -> Result<ChallengeClaims, HttpError> {
    let token = headers
        .get(AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
        .ok_or_else(|| {
            HttpError::new(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "A Bearer token is required.",
            )
        })?;
    shared.tokens().read_challenge(token).map_err(|_| {
        HttpError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "The token is invalid or has expired.",
        )
    })
}

/// `POST /client/user-authenticators/totp`: starts an authenticator-app enrollment for
/// the token's user (or returns the one in progress). An already enrolled user's token
/// needs the `add:authenticators` scope.
pub(crate) async fn enroll_totp(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
) -> Result<Json<EnrollTotpResponse>, HttpError> {
    let claims = bearer(&shared, &headers)?;
    let now = shared.clock.now();
    let mut store = shared.store();
    if store.is_enrolled(&claims.sub) && !claims.has_scope(ADD_AUTHENTICATORS) {
        return Err(HttpError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "The user is already enrolled: adding an authenticator needs a token with the add:authenticators scope.",
        ));
    }
    let enrollment = store.start_totp_enrollment(&claims.sub, now);
    Ok(Json(EnrollTotpResponse {
        uri: enrollment.uri,
        secret: enrollment.secret,
        user_authenticator_id: enrollment.user_authenticator_id,
        user_id: enrollment.user_id,
    }))
}

/// `POST /client/verify/totp`: checks a code for the token's action. Right: the action is
/// `CHALLENGE_SUCCEEDED` and `accessToken` is a token that validates. Wrong codes count
/// toward the attempt limit, after which the action is `CHALLENGE_FAILED`.
pub(crate) async fn verify_totp(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    ApiJson(request): ApiJson<VerifyTotpRequest>,
) -> Result<Json<VerifyTotpResponse>, HttpError> {
    let claims = bearer(&shared, &headers)?;
    let tokens = shared.tokens();
    let attempt = shared
        .store()
        .verify_totp(&claims, &request.verification_code, tokens);
    let failed = |reason| VerifyTotpResponse {
        is_verified: false,
        access_token: None,
        failure_reason: Some(reason),
    };
    match attempt {
        TotpAttempt::Verified { token, .. } => Ok(Json(VerifyTotpResponse {
            is_verified: true,
            access_token: Some(token),
            failure_reason: None,
        })),
        TotpAttempt::Wrong { .. } => Ok(Json(failed(
            VerificationFailureReason::CodeInvalidOrExpired,
        ))),
        TotpAttempt::LimitReached => {
            Ok(Json(failed(VerificationFailureReason::MaxAttemptsExceeded)))
        }
        TotpAttempt::NoAuthenticator => Err(HttpError::invalid_request(
            "The user has no authenticator app: enroll one first.",
        )),
        TotpAttempt::NotChallengeable => Err(HttpError::invalid_request(
            "The token's action cannot be verified.",
        )),
    }
}
