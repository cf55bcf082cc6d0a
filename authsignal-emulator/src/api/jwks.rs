//! The JWKS: the public key that session access tokens are verified with.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use jsonwebtoken::jwk::JwkSet;

use super::super::error::HttpError;
use super::super::state::Shared;

/// `GET /v1/client/public/{tenantId}/.well-known/jwks`: public, as a verifier fetches it
/// with no credentials; another tenant's id is a 404.
pub(crate) async fn jwks(
    State(shared): State<Arc<Shared>>,
    Path(tenant_id): Path<String>,
) -> Result<Json<JwkSet>, HttpError> {
    if tenant_id != shared.tenant_id {
        return Err(HttpError::not_found("There is no such tenant."));
    }
    shared.prepare_session_key().await;
    Ok(Json(shared.session_key.get().jwks()))
}
