//! CORS for the client API, which a custom UI calls from the browser on the app's origin.
//!
//! Any origin may call it: the credential is a Bearer token the page holds, never a
//! cookie, so allowing every origin grants a page nothing it did not already have, and
//! credentials (cookies) are not allowed. The Web SDK sends `POST` with `Authorization`
//! and `Content-Type: application/json` (and `GET` for the user's authenticators), which
//! is not a simple request: the browser asks first with a preflight, answered here
//! without reaching a handler.

use std::time::Duration;

use http::Method;
use http::header::{AUTHORIZATION, CONTENT_TYPE};
use tower_http::cors::{AllowOrigin, CorsLayer};

/// How long a browser may cache a preflight answer.
const PREFLIGHT_MAX_AGE: Duration = Duration::from_secs(600);

/// The layer of every client API route, errors included: `Access-Control-Allow-Origin: *`
/// on every answer, and preflights allowing `GET` and `POST` with `Authorization` and
/// `Content-Type`.
pub(crate) fn client_api() -> CorsLayer {
    CorsLayer::new()
        .allow_origin(AllowOrigin::any())
        .allow_methods([Method::GET, Method::POST])
        .allow_headers([AUTHORIZATION, CONTENT_TYPE])
        .max_age(PREFLIGHT_MAX_AGE)
}
