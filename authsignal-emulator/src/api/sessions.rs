//! Routes of sessions.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use http::StatusCode;

use super::super::error::HttpError;
use super::super::state::Shared;
use super::extract::ApiJson;
use authsignal::types::{
    CreateSessionRequest, RefreshSessionRequest, RevokeSessionRequest, RevokeUserSessionsRequest,
    SessionTokens, ValidateSessionRequest, ValidateSessionResponse,
};

/// `POST /sessions`
pub(crate) async fn create_session(
    State(shared): State<Arc<Shared>>,
    ApiJson(request): ApiJson<CreateSessionRequest>,
) -> Result<Json<SessionTokens>, HttpError> {
    shared.prepare_session_key().await;
    let tokens = shared.tokens();
    shared.store().create_session(&request, tokens).map(Json)
}

/// `POST /sessions/validate`
pub(crate) async fn validate_session(
    State(shared): State<Arc<Shared>>,
    ApiJson(request): ApiJson<ValidateSessionRequest>,
) -> Result<Json<ValidateSessionResponse>, HttpError> {
    let tokens = shared.tokens();
    shared.store().validate_session(&request, tokens).map(Json)
}

/// `POST /sessions/refresh`
pub(crate) async fn refresh_session(
    State(shared): State<Arc<Shared>>,
    ApiJson(request): ApiJson<RefreshSessionRequest>,
) -> Result<Json<SessionTokens>, HttpError> {
    let tokens = shared.tokens();
    shared.store().refresh_session(&request, tokens).map(Json)
}

/// `POST /sessions/revoke`: answers 200 with an empty body.
pub(crate) async fn revoke_session(
    State(shared): State<Arc<Shared>>,
    ApiJson(request): ApiJson<RevokeSessionRequest>,
) -> Result<StatusCode, HttpError> {
    let tokens = shared.tokens();
    shared.store().revoke_session(&request, tokens)?;
    Ok(StatusCode::OK)
}

/// `POST /sessions/user/revoke`: answers 200 with an empty body.
pub(crate) async fn revoke_user_sessions(
    State(shared): State<Arc<Shared>>,
    ApiJson(request): ApiJson<RevokeUserSessionsRequest>,
) -> StatusCode {
    shared.store().revoke_user_sessions(&request.user_id);
    StatusCode::OK
}
