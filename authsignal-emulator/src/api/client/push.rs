//! Push in the client API, the Web SDK's `push`:
//!
//! | SDK call | route | body | answer |
//! |---|---|---|---|
//! | `push.challenge({action})` | `POST /client/challenge/push` | `{action}` | `{challengeId}` |
//! | `push.verify({challengeId})` | `POST /client/verify/push`, asked again until consumed | `{challengeId}` | `{isVerified, isConsumed, accessToken?}` |
//!
//! The push goes to the user's phone once `push.created` is accepted; the phone (the
//! emulator's [`answer_push`](crate::EmulatorHandle::answer_push)) approves or denies it.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use http::HeaderMap;
use serde::{Deserialize, Serialize};

use super::super::super::error::HttpError;
use super::super::super::state::{PushState, Shared};
use super::super::extract::ApiJson;
use super::otp::ChallengeResponse;
use super::{VerifyResponse, bearer};
use authsignal::types::VerificationMethod;

/// The body of `POST /client/challenge/push`.
#[derive(Debug, Deserialize)]
pub(crate) struct PushChallengeRequest {
    action: String,
}

/// The body of `POST /client/verify/push`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PushVerifyRequest {
    challenge_id: String,
}

/// The answer of `POST /client/verify/push`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PushVerifyResponse {
    is_consumed: bool,
    #[serde(flatten)]
    verify: VerifyResponse,
}

type Answer<T> = Result<Json<T>, HttpError>;

/// `POST /client/challenge/push`.
pub(crate) async fn challenge_push(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    ApiJson(request): ApiJson<PushChallengeRequest>,
) -> Answer<ChallengeResponse> {
    let claims = bearer(&shared, &headers)?;
    let now = shared.clock.now();
    let sending = shared
        .store()
        .start_push_challenge(&claims, &request.action, now)?;
    let challenge_id = shared.send(sending).await?;
    Ok(Json(ChallengeResponse::new(challenge_id)))
}

/// `POST /client/verify/push`: unanswered, `{isVerified: false, isConsumed: false}`;
/// denied or expired, `{isVerified: false, isConsumed: true}`; approved, once the action's
/// `action.verify` (if any) accepts, the action succeeds and a new token is answered.
pub(crate) async fn verify_push(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    ApiJson(request): ApiJson<PushVerifyRequest>,
) -> Answer<PushVerifyResponse> {
    let claims = bearer(&shared, &headers)?;
    let now = shared.clock.now();
    let gate = {
        let store = shared.store();
        match store.push_state(&claims, &request.challenge_id, now)? {
            PushState::Waiting => {
                return Ok(Json(PushVerifyResponse {
                    is_consumed: false,
                    verify: VerifyResponse::waiting(),
                }));
            }
            PushState::Refused => {
                return Ok(Json(PushVerifyResponse {
                    is_consumed: true,
                    verify: VerifyResponse::waiting(),
                }));
            }
            PushState::Approved { authenticator_id } => store.verification_gate(
                &claims.other,
                &VerificationMethod::Push,
                Some(&authenticator_id),
                now,
            ),
        }
    };
    gate.accepted().await?;
    let tokens = shared.tokens();
    if !shared
        .store()
        .complete_push(&claims, &request.challenge_id, tokens.now)
    {
        return Err(HttpError::invalid_request(
            "The push challenge has already been used.",
        ));
    }
    Ok(Json(PushVerifyResponse {
        is_consumed: true,
        verify: VerifyResponse::verified(tokens, &claims, None),
    }))
}
