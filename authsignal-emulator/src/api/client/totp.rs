//! The authenticator app in the client API: `POST /client/user-authenticators/totp`
//! (the Web SDK's `totp.enroll()`) and `POST /client/verify/totp` (`totp.verify()`).

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use http::HeaderMap;
use serde::Serialize;

use super::super::super::error::HttpError;
use super::super::super::state::{Shared, Store, TotpAttempt};
use super::super::extract::ApiJson;
use super::{VerifyRequest, VerifyResponse, bearer, may_add_authenticator};
use authsignal::types::{UserAuthenticator, VerificationFailureReason, VerificationMethod};

/// The answer of `POST /client/user-authenticators/totp`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct EnrollTotpResponse {
    uri: String,
    secret: String,
    user_authenticator_id: String,
    user_id: String,
}

/// `POST /client/user-authenticators/totp`: starts an authenticator-app enrollment for
/// the token's user (or returns the one in progress). The SDK sends no body. An already
/// enrolled user's token needs the `add:authenticators` scope.
pub(crate) async fn enroll(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
) -> Result<Json<EnrollTotpResponse>, HttpError> {
    let claims = bearer(&shared, &headers)?;
    let now = shared.clock.now();
    let mut store = shared.store();
    may_add_authenticator(&store, &claims)?;
    let enrollment = store.start_totp_enrollment(&claims.sub, now);
    Ok(Json(EnrollTotpResponse {
        uri: enrollment.uri,
        secret: enrollment.secret,
        user_authenticator_id: enrollment.user_authenticator_id,
        user_id: enrollment.user_id,
    }))
}

/// `POST /client/verify/totp`: checks a code for the token's action. Right: the action is
/// `CHALLENGE_SUCCEEDED`, `accessToken` is a token that validates (and may add
/// authenticators), and `userAuthenticator` is the app when the code completed its
/// enrollment. Wrong codes count toward the attempt limit, after which the action is
/// `CHALLENGE_FAILED`.
pub(crate) async fn verify(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    ApiJson(request): ApiJson<VerifyRequest>,
) -> Result<Json<VerifyResponse>, HttpError> {
    let claims = bearer(&shared, &headers)?;
    let code = &request.verification_code;
    // A right code waits for the action's `action.verify`, if it has one, before it is
    // used: refused, the request fails and the code counts for nothing.
    let gate = {
        let store = shared.store();
        let now = shared.clock.now();
        store.would_verify_totp(&claims, code, now).map(|app| {
            store.verification_gate(
                &claims.other,
                &VerificationMethod::AuthenticatorApp,
                Some(&app),
                now,
            )
        })
    };
    if let Some(gate) = gate {
        gate.accepted().await?;
    }
    let tokens = shared.tokens();
    let mut store = shared.store();
    let verified_before = verified_app(&store, &claims.sub).map(|app| app.user_authenticator_id);
    match store.verify_totp(&claims, code, tokens) {
        TotpAttempt::Verified { .. } => {
            // The app verified now and not before: this code completed its enrollment.
            let enrolled = verified_app(&store, &claims.sub)
                .filter(|app| Some(&app.user_authenticator_id) != verified_before.as_ref());
            Ok(Json(VerifyResponse::verified(tokens, &claims, enrolled)))
        }
        TotpAttempt::Wrong { .. } => Ok(Json(VerifyResponse::failed(
            VerificationFailureReason::CodeInvalidOrExpired,
        ))),
        TotpAttempt::LimitReached => Ok(Json(VerifyResponse::failed(
            VerificationFailureReason::MaxAttemptsExceeded,
        ))),
        TotpAttempt::NoAuthenticator => Err(HttpError::invalid_request(
            "The user has no authenticator app: enroll one first.",
        )),
        TotpAttempt::NotChallengeable => Err(HttpError::invalid_request(
            "The token's action cannot be verified.",
        )),
    }
}

/// The user's verified authenticator app, as the API shows it.
fn verified_app(store: &Store, user_id: &str) -> Option<UserAuthenticator> {
    store
        .totp_authenticator(user_id)
        .filter(|app| app.is_verified())
        .map(Store::authenticator_view)
}
