//! Email magic links in the client API, the Web SDK's `emailML`:
//!
//! | SDK call | route | body | answer |
//! |---|---|---|---|
//! | `emailML.enroll({email})` | `POST /client/user-authenticators/email-magic-link` | `{email}` | `{userAuthenticatorId, userId, challengeId}` |
//! | `emailML.challenge()` | `POST /client/challenge/email-magic-link` | none | `{challengeId}` |
//! | `emailML.checkVerificationStatus()` | `POST /client/verify/email-magic-link/finalize`, every second until verified | `{}` | `{isVerified, accessToken?, userAuthenticator?}` |
//!
//! Enrolling and challenging send a link (to the outbox, once `email.created` is
//! accepted); following it (the emulator's page, `GET /ui/magic-link?token=`) is what
//! the user does in their inbox; finalizing then completes the token's action, once.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use http::HeaderMap;
use serde::Deserialize;

use super::super::super::error::HttpError;
use super::super::super::state::{LinkState, OtpAttempt, OtpChannel, Shared};
use super::super::extract::ApiJson;
use super::otp::{ChallengeRequest, ChallengeResponse, EnrollEmailRequest, challenge, enroll};
use super::{EnrollResponse, VerifyResponse, bearer};
use authsignal::types::VerificationMethod;

/// The body of `finalize`: the SDK sends `{}`.
#[derive(Debug, Deserialize)]
pub(crate) struct FinalizeRequest {}

type Answer<T> = Result<Json<T>, HttpError>;

/// `POST /client/user-authenticators/email-magic-link`.
pub(crate) async fn enroll_magic_link(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    ApiJson(request): ApiJson<EnrollEmailRequest>,
) -> Answer<EnrollResponse> {
    enroll(
        &shared,
        &headers,
        OtpChannel::EmailMagicLink,
        request.email(),
    )
    .await
}

/// `POST /client/challenge/email-magic-link`.
pub(crate) async fn challenge_magic_link(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    ApiJson(request): ApiJson<ChallengeRequest>,
) -> Answer<ChallengeResponse> {
    challenge(&shared, &headers, OtpChannel::EmailMagicLink, request).await
}

/// `POST /client/verify/email-magic-link/finalize`: `{isVerified: false}` until the
/// newest link sent for the token's action is followed; then, once the action's
/// `action.verify` (if any) accepts, the action succeeds and a new token is answered.
pub(crate) async fn finalize(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    ApiJson(FinalizeRequest {}): ApiJson<FinalizeRequest>,
) -> Answer<VerifyResponse> {
    let claims = bearer(&shared, &headers)?;
    let gate = {
        let store = shared.store();
        match store.magic_link_state(&claims) {
            None => {
                return Err(HttpError::invalid_request(
                    "No magic link was sent for this token: call enroll or challenge first.",
                ));
            }
            Some(LinkState::Waiting) => return Ok(Json(VerifyResponse::waiting())),
            Some(LinkState::Finalized) => {
                return Err(HttpError::invalid_request(
                    "The magic link has already been used.",
                ));
            }
            Some(LinkState::Followed) => store.verification_gate(
                &claims.other,
                &VerificationMethod::EmailMagicLink,
                None,
                shared.clock.now(),
            ),
        }
    };
    gate.accepted().await?;
    let tokens = shared.tokens();
    match shared.store().finalize_magic_link(&claims, tokens.now) {
        OtpAttempt::Verified { enrolled } => Ok(Json(VerifyResponse::verified(
            tokens,
            &claims,
            enrolled.map(|a| *a),
        ))),
        // Used or gone meanwhile.
        _ => Err(HttpError::invalid_request(
            "The magic link can no longer complete this action.",
        )),
    }
}
