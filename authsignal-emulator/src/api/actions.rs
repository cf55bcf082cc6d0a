//! Routes of actions: `track`, `validateChallenge`, `getAction`, `updateAction`,
//! `queryUserActions`.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use serde::Serialize;

use super::super::error::HttpError;
use super::super::state::{ActionsQuery, Shared};
use super::extract::{ApiJson, ApiPath, ApiQuery};
use authsignal::types::{
    ActionDetails, TrackAttributes, TrackResponse, UpdateActionRequest, UserActionSummary,
    ValidateChallengeRequest, ValidateChallengeResponse,
};

/// `POST /users/{userId}/actions/{action}`
pub(crate) async fn track(
    State(shared): State<Arc<Shared>>,
    ApiPath((user_id, action)): ApiPath<(String, String)>,
    ApiJson(attributes): ApiJson<TrackAttributes>,
) -> Result<Json<TrackResponse>, HttpError> {
    let tokens = shared.tokens();
    let ui_url = |token: &str| shared.challenge_url(token);
    shared
        .store()
        .track(&user_id, &action, attributes, tokens, ui_url)
        .map(Json)
}

/// The answer of `/validate` on the wire: the live API still sends the action's code as
/// `actionCode` beside `action` (the Python SDK's tests see both; the Java and .NET SDKs
/// read only `actionCode`).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ValidateAnswer {
    #[serde(flatten)]
    response: ValidateChallengeResponse,
    #[serde(skip_serializing_if = "Option::is_none")]
    action_code: Option<String>,
}

/// `POST /validate`
pub(crate) async fn validate_challenge(
    State(shared): State<Arc<Shared>>,
    ApiJson(request): ApiJson<ValidateChallengeRequest>,
) -> Json<ValidateAnswer> {
    let tokens = shared.tokens();
    let response = shared.store().validate(&request, tokens);
    Json(ValidateAnswer {
        action_code: response.action.clone(),
        response,
    })
}

/// `GET /users/{userId}/actions/{action}/{idempotencyKey}`
pub(crate) async fn get_action(
    State(shared): State<Arc<Shared>>,
    ApiPath((user_id, action, key)): ApiPath<(String, String, String)>,
) -> Result<Json<ActionDetails>, HttpError> {
    shared.store().get_action(&user_id, &action, &key).map(Json)
}

/// `PATCH /users/{userId}/actions/{action}/{idempotencyKey}`
pub(crate) async fn update_action(
    State(shared): State<Arc<Shared>>,
    ApiPath((user_id, action, key)): ApiPath<(String, String, String)>,
    ApiJson(update): ApiJson<UpdateActionRequest>,
) -> Result<Json<ActionDetails>, HttpError> {
    let now = shared.clock.now();
    shared
        .store()
        .update_action(&user_id, &action, &key, update.state, now)
        .map(Json)
}

/// `GET /users/{userId}/actions?fromDate&codes&state`
pub(crate) async fn query_user_actions(
    State(shared): State<Arc<Shared>>,
    ApiPath(user_id): ApiPath<String>,
    ApiQuery(query): ApiQuery<ActionsQuery>,
) -> Result<Json<Vec<UserActionSummary>>, HttpError> {
    shared
        .store()
        .query_user_actions(&user_id, &query)
        .map(Json)
}
