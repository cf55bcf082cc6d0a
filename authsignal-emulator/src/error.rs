//! The error answer of every API route: `{"error", "errorCode", "errorDescription"}`.

use axum::Json;
use axum::response::{IntoResponse, Response};
use http::StatusCode;

/// The description the live API gives with a 401.
pub(crate) const UNAUTHORIZED_DESCRIPTION: &str = "The request is unauthorized. Check that your API key and region base URL are correctly configured.";

/// An error answer. `error` and `errorCode` carry the same code, as the live API's do
/// (SDKs read one or the other).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HttpError {
    pub(crate) status: StatusCode,
    pub(crate) code: &'static str,
    pub(crate) description: String,
}

impl HttpError {
    pub(crate) fn new(
        status: StatusCode,
        code: &'static str,
        description: impl Into<String>,
    ) -> Self {
        Self {
            status,
            code,
            description: description.into(),
        }
    }

    /// 400 `invalid_request`.
    pub(crate) fn invalid_request(description: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", description)
    }

    /// 401 `unauthorized`, with the live API's description.
    pub(crate) fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            UNAUTHORIZED_DESCRIPTION,
        )
    }

    /// 405 `method_not_allowed`.
    pub(crate) fn method_not_allowed() -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "The route does not take this method.",
        )
    }

    /// 404 `not_found`.
    pub(crate) fn not_found(description: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", description)
    }
}

impl IntoResponse for HttpError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({
            "error": self.code,
            "errorCode": self.code,
            "errorDescription": self.description,
        });
        (self.status, Json(body)).into_response()
    }
}
