//! CORS for the client API, which a custom UI calls from the browser on the app's origin.
//!
//! Any origin may call it: the credential is a Bearer token the page holds, never a
//! cookie, so allowing every origin grants a page nothing it did not already have.

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::header::{
    ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS, ACCESS_CONTROL_ALLOW_ORIGIN,
    ACCESS_CONTROL_MAX_AGE,
};
use http::{HeaderValue, StatusCode};

/// The answer to a preflight: 204, POST with `Authorization` and `Content-Type` allowed.
pub(crate) async fn preflight() -> Response {
    let mut preflight = StatusCode::NO_CONTENT.into_response();
    let headers = preflight.headers_mut();
    headers.insert(
        ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("POST, OPTIONS"),
    );
    headers.insert(
        ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static("authorization, content-type"),
    );
    headers.insert(ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("600"));
    preflight
}

/// Marks every answer (errors included) readable from any origin.
pub(crate) async fn allow_any_origin(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    response
        .headers_mut()
        .insert(ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    response
}
