//! `GET /client/user-authenticators`: the token's user's authenticators, which the Web SDK
//! reads after a passkey sign-up or sign-in to keep its list of passkeys.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use http::{HeaderMap, StatusCode};

use super::super::super::error::HttpError;
use super::super::super::state::Shared;
use super::bearer;
use authsignal::types::UserAuthenticator;

/// The scope reading them takes: every token has it unless its track asked for others.
const READ_AUTHENTICATORS: &str = "read:authenticators";

/// The verified authenticators of the token's user, as `getAuthenticators` lists them.
pub(crate) async fn list(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
) -> Result<Json<Vec<UserAuthenticator>>, HttpError> {
    let claims = bearer(&shared, &headers)?;
    if !claims.has_scope(READ_AUTHENTICATORS) {
        return Err(HttpError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "Reading authenticators needs a token with the read:authenticators scope.",
        ));
    }
    Ok(Json(shared.store().list_authenticators(&claims.sub)))
}
