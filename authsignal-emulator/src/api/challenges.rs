//! Routes of one-time codes: `challenge`, `verify`, `claimChallenge`, `getChallenge`.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;

use super::super::error::HttpError;
use super::super::state::Shared;
use super::extract::{ApiJson, ApiQuery};
use authsignal::types::{
    ChallengeRequest, ChallengeResponse, ClaimChallengeRequest, ClaimChallengeResponse,
    GetChallengeRequest, GetChallengeResponse, VerifyRequest, VerifyResponse,
};

/// `POST /challenge`: answers once the code's `sms.created` or `email.created` webhook
/// accepted it.
pub(crate) async fn challenge(
    State(shared): State<Arc<Shared>>,
    ApiJson(request): ApiJson<ChallengeRequest>,
) -> Result<Json<ChallengeResponse>, HttpError> {
    let now = shared.clock.now();
    let (response, sending) = shared.store().challenge(request, now)?;
    shared.send(sending).await?;
    Ok(Json(response))
}

/// `POST /verify`: a right code for a challenge tied to a tracked action waits for the
/// action's `action.verify`, if it has one, before it is used.
pub(crate) async fn verify(
    State(shared): State<Arc<Shared>>,
    ApiJson(request): ApiJson<VerifyRequest>,
) -> Result<Json<VerifyResponse>, HttpError> {
    let gate = {
        let store = shared.store();
        let now = shared.clock.now();
        store
            .would_complete(&request, now)
            .map(|(target, method)| store.verification_gate(&target, &method, None, now))
    };
    if let Some(gate) = gate {
        gate.accepted().await?;
    }
    let now = shared.clock.now();
    shared.store().verify(&request, now).map(Json)
}

/// `POST /claim`
pub(crate) async fn claim_challenge(
    State(shared): State<Arc<Shared>>,
    ApiJson(request): ApiJson<ClaimChallengeRequest>,
) -> Result<Json<ClaimChallengeResponse>, HttpError> {
    let tokens = shared.tokens();
    shared.store().claim(&request, tokens).map(Json)
}

/// `GET /challenges?challengeId&userId&action&verificationMethod`
pub(crate) async fn get_challenge(
    State(shared): State<Arc<Shared>>,
    ApiQuery(query): ApiQuery<GetChallengeRequest>,
) -> Json<GetChallengeResponse> {
    let now = shared.clock.now();
    Json(shared.store().get_challenge(&query, now))
}
