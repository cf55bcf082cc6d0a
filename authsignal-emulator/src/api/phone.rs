//! The user's phone over HTTP, for tests written in other languages (which cannot call
//! [`EmulatorHandle::answer_push`](super::super::EmulatorHandle::answer_push)):
//!
//! - `POST /emulator/push-authenticators` with `{"userId"}` enrolls a push authenticator,
//!   as the mobile SDK does on a phone, and answers `{"userAuthenticatorId"}`;
//! - `GET /emulator/push` answers the pushes waiting on phones, oldest first:
//!   `[{"challengeId", "userId", "action", "sentAt"}]`;
//! - `POST /emulator/push/{challengeId}` with `{"approve": true}` (or `false`) answers one,
//!   `{"answered": true}`; 400 `invalid_request` when no such push waits.
//!
//! Emulator-only extensions: real Authsignal has no such routes. They sit behind the same
//! Basic auth as the Server API: approving a push is the user's second factor.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};

use super::super::clock::Timestamp;
use super::super::error::HttpError;
use super::super::state::{PendingPush, Shared};
use super::extract::{ApiJson, ApiPath};

/// The body of `POST /emulator/push-authenticators`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct EnrollPushRequest {
    user_id: String,
}

/// The answer of `POST /emulator/push-authenticators`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct EnrollPushResponse {
    user_authenticator_id: String,
}

/// One push waiting on a phone, as `GET /emulator/push` answers it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PendingPushEntry {
    challenge_id: String,
    user_id: String,
    action: String,
    /// RFC 3339, by the emulator's clock.
    sent_at: String,
}

impl From<PendingPush> for PendingPushEntry {
    fn from(push: PendingPush) -> Self {
        Self {
            challenge_id: push.challenge_id,
            user_id: push.user_id,
            action: push.action,
            sent_at: Timestamp::from_system(push.sent_at).rfc3339(),
        }
    }
}

/// The body of `POST /emulator/push/{challengeId}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AnswerPushRequest {
    approve: bool,
}

/// The answer of `POST /emulator/push/{challengeId}`.
#[derive(Debug, Serialize)]
pub(crate) struct AnswerPushResponse {
    answered: bool,
}

/// `POST /emulator/push-authenticators`.
pub(crate) async fn enroll_push(
    State(shared): State<Arc<Shared>>,
    ApiJson(request): ApiJson<EnrollPushRequest>,
) -> Result<Json<EnrollPushResponse>, HttpError> {
    if request.user_id.trim().is_empty() {
        return Err(HttpError::invalid_request("userId is required."));
    }
    let now = shared.clock.now();
    let user_authenticator_id = shared.store().enroll_push(&request.user_id, now);
    Ok(Json(EnrollPushResponse {
        user_authenticator_id,
    }))
}

/// `GET /emulator/push`.
pub(crate) async fn pending_pushes(
    State(shared): State<Arc<Shared>>,
) -> Json<Vec<PendingPushEntry>> {
    let now = shared.clock.now();
    let pending = shared.store().pending_pushes(now);
    Json(pending.into_iter().map(PendingPushEntry::from).collect())
}

/// `POST /emulator/push/{challengeId}`.
pub(crate) async fn answer_push(
    State(shared): State<Arc<Shared>>,
    ApiPath(challenge_id): ApiPath<String>,
    ApiJson(request): ApiJson<AnswerPushRequest>,
) -> Result<Json<AnswerPushResponse>, HttpError> {
    let now = shared.clock.now();
    if !shared
        .store()
        .answer_push(&challenge_id, request.approve, now)
    {
        return Err(HttpError::invalid_request(
            "No push with that challengeId is waiting for an answer.",
        ));
    }
    Ok(Json(AnswerPushResponse { answered: true }))
}
