//! Routes of users and their authenticators.

use std::sync::Arc;

use axum::Json;
use axum::extract::{FromRequest as _, Request, State};
use http::StatusCode;

use super::super::error::HttpError;
use super::super::state::{EnrollRequest, Shared};
use super::Deleted;
use super::extract::{ApiJson, ApiPath, ApiQuery};
use authsignal::types::{
    BatchEnrollVerifiedAuthenticatorsRequest, BatchEnrollVerifiedAuthenticatorsResponse,
    EnrollVerifiedAuthenticatorResponse, QueryUsersRequest, QueryUsersResponse, UpdateUserRequest,
    User, UserAttributes, UserAuthenticator,
};

/// `GET /users/{userId}`
pub(crate) async fn get_user(
    State(shared): State<Arc<Shared>>,
    ApiPath(user_id): ApiPath<String>,
) -> Json<User> {
    Json(shared.store().get_user(&user_id))
}

/// `GET /users?username&email&phoneNumber&token&limit&lastEvaluatedUserId`
pub(crate) async fn query_users(
    State(shared): State<Arc<Shared>>,
    ApiQuery(query): ApiQuery<QueryUsersRequest>,
) -> Result<Json<QueryUsersResponse>, HttpError> {
    let tokens = shared.tokens();
    shared.store().query_users(&query, tokens).map(Json)
}

/// `PATCH /users/{userId}`
pub(crate) async fn update_user(
    State(shared): State<Arc<Shared>>,
    ApiPath(user_id): ApiPath<String>,
    ApiJson(changes): ApiJson<UpdateUserRequest>,
) -> Result<Json<UserAttributes>, HttpError> {
    shared.store().update_user(&user_id, changes).map(Json)
}

/// `DELETE /users/{userId}`
pub(crate) async fn delete_user(
    State(shared): State<Arc<Shared>>,
    ApiPath(user_id): ApiPath<String>,
) -> Json<Deleted> {
    let now = shared.clock.now();
    shared.store().delete_user(&user_id, now);
    Json(Deleted::default())
}

/// `GET /users/{userId}/authenticators`
pub(crate) async fn get_authenticators(
    State(shared): State<Arc<Shared>>,
    ApiPath(user_id): ApiPath<String>,
) -> Json<Vec<UserAuthenticator>> {
    Json(shared.store().list_authenticators(&user_id))
}

/// `POST /users/{userId}/authenticators`
pub(crate) async fn enroll_verified_authenticator(
    State(shared): State<Arc<Shared>>,
    ApiPath(user_id): ApiPath<String>,
    ApiJson(request): ApiJson<EnrollRequest>,
) -> Result<Json<EnrollVerifiedAuthenticatorResponse>, HttpError> {
    let now = shared.clock.now();
    shared
        .store()
        .enroll_verified(&user_id, request, now)
        .map(Json)
}

/// `POST /users/authenticators`: `batchEnrollVerifiedAuthenticators`. It shares its path
/// shape with `/users/{userId}`, which has no POST of its own: any other user id is 405.
pub(crate) async fn batch_enroll_verified_authenticators(
    State(shared): State<Arc<Shared>>,
    ApiPath(segment): ApiPath<String>,
    body: Request,
) -> Result<Json<BatchEnrollVerifiedAuthenticatorsResponse>, HttpError> {
    if segment != "authenticators" {
        return Err(HttpError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "The route does not take this method.",
        ));
    }
    // Read only now: a POST to another user is 405 whatever its body.
    let ApiJson(request) =
        ApiJson::<BatchEnrollVerifiedAuthenticatorsRequest>::from_request(body, &()).await?;
    let now = shared.clock.now();
    shared.store().batch_enroll(request, now).map(Json)
}

/// `DELETE /users/{userId}/authenticators/{userAuthenticatorId}`
pub(crate) async fn delete_authenticator(
    State(shared): State<Arc<Shared>>,
    ApiPath((user_id, authenticator_id)): ApiPath<(String, String)>,
) -> Result<Json<Deleted>, HttpError> {
    let now = shared.clock.now();
    shared
        .store()
        .delete_authenticator(&user_id, &authenticator_id, now)?;
    Ok(Json(Deleted::default()))
}
