//! The gate's own answers: RFC 9457 problem documents, never cached.
//!
//! Every answer the gate makes instead of running the handler goes through here, so that
//! each carries `Content-Type: application/problem+json`, `Cache-Control: no-store` (a
//! challenge or a refusal must not be replayed by a cache) and `Vary` on the headers that
//! chose between a redirect and a 401.

use std::time::Duration;

use axum::response::{IntoResponse, Response};
use http::header::{CACHE_CONTROL, CONTENT_TYPE, LOCATION, RETRY_AFTER, VARY, WWW_AUTHENTICATE};
use http::{HeaderValue, StatusCode};
use serde_json::{Map, Value, json};

use super::negotiate;
use crate::safe_text::escape_html;

/// A problem document: `status`, a short `code` for programs, a `detail` for people, and
/// any extra members.
#[derive(Debug, Clone)]
pub(crate) struct Problem {
    status: StatusCode,
    code: &'static str,
    detail: &'static str,
    extra: Map<String, Value>,
    retry_after: Option<Duration>,
}

impl Problem {
    pub(crate) fn new(status: StatusCode, code: &'static str, detail: &'static str) -> Self {
        Self {
            status,
            code,
            detail,
            extra: Map::new(),
            retry_after: None,
        }
    }

    pub(crate) fn with(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.extra.insert(name.to_owned(), value.into());
        self
    }

    pub(crate) fn status(&self) -> StatusCode {
        self.status
    }

    pub(crate) fn body(&self) -> Value {
        let mut body = json!({
            "type": "about:blank",
            "title": self.status.canonical_reason().unwrap_or("Error"),
            "status": self.status.as_u16(),
            "code": self.code,
            "detail": self.detail,
        });
        if let Value::Object(map) = &mut body {
            map.extend(self.extra.clone());
        }
        body
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let mut response = (self.status, self.body().to_string()).into_response();
        no_store(&mut response);
        response.headers_mut().insert(
            CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if let Some(after) = self.retry_after {
            response
                .headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from(after.as_secs().max(1)));
        }
        response
    }
}

/// Marks a gate answer as uncacheable and varying with the negotiation headers.
pub(crate) fn no_store(response: &mut Response) {
    let headers = response.headers_mut();
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(VARY, HeaderValue::from_static(negotiate::VARY));
}

/// 401: the request carries no authenticated user.
pub(crate) fn no_user() -> Problem {
    Problem::new(
        StatusCode::UNAUTHORIZED,
        "user_required",
        "Sign in first: this action needs an authenticated user.",
    )
}

/// 403: the one answer for every failed validation, whatever the reason (the reason goes
/// to the logs only, so that a prober learns nothing from the difference).
pub(crate) fn verification_failed() -> Problem {
    Problem::new(
        StatusCode::FORBIDDEN,
        "step_up_failed",
        "The step-up authentication could not be verified. Start the action again.",
    )
}

/// 400: a token that cannot be one (empty, too long, odd characters, given twice).
pub(crate) fn malformed_token() -> Problem {
    Problem::new(
        StatusCode::BAD_REQUEST,
        "token_malformed",
        "The step-up token is malformed.",
    )
}

/// 413: the body is over the gate's limit.
pub(crate) fn body_too_large(limit: usize) -> Problem {
    Problem::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "body_too_large",
        "The request body is larger than this action accepts.",
    )
    .with("limit", limit)
}

/// 400: the body could not be read.
pub(crate) fn unreadable_body() -> Problem {
    Problem::new(
        StatusCode::BAD_REQUEST,
        "body_unreadable",
        "The request body could not be read.",
    )
}

/// 503 with `Retry-After`: Authsignal (or the store) failed, so the gate stays shut.
pub(crate) fn unavailable(retry_after: Duration) -> Problem {
    let mut problem = Problem::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "step_up_unavailable",
        "Step-up authentication is unavailable right now. Try again shortly.",
    );
    problem.retry_after = Some(retry_after);
    problem
}

/// 500: a handler asks for [`StepUp`](super::StepUp) but nothing on its route provides it.
pub(crate) fn missing_layer() -> Problem {
    Problem::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "step_up_layer_missing",
        "This route asks for a StepUp proof but has no StepUpLayer and no StepUpValidator \
         extension: add StepUpLayer::new(client, action) to the route.",
    )
}

/// 401: the standalone extractor found no token: the client must complete a step-up.
pub(crate) fn token_required() -> Problem {
    Problem::new(
        StatusCode::UNAUTHORIZED,
        "step_up_required",
        "This action needs a step-up authentication token.",
    )
}

/// 403 for `BLOCK`.
pub(crate) fn blocked(status: StatusCode) -> Problem {
    Problem::new(status, "action_blocked", "This action is not allowed.")
}

/// `REVIEW_REQUIRED` (403 by default).
pub(crate) fn in_review(status: StatusCode) -> Problem {
    Problem::new(
        status,
        "action_in_review",
        "This action is held for a manual review.",
    )
}

/// 303 to the pre-built UI.
pub(crate) fn redirect(location: &str) -> Option<Response> {
    let location = HeaderValue::try_from(location).ok()?;
    let mut response = StatusCode::SEE_OTHER.into_response();
    response.headers_mut().insert(LOCATION, location);
    no_store(&mut response);
    Some(response)
}

/// 401 with the challenge (RFC 9470 `insufficient_user_authentication`).
pub(crate) fn challenge(problem: Problem, htmx_redirect: Option<&str>) -> Response {
    let mut response = problem.into_response();
    let headers = response.headers_mut();
    headers.insert(
        WWW_AUTHENTICATE,
        HeaderValue::from_static(
            "Bearer error=\"insufficient_user_authentication\", \
             error_description=\"A step-up authentication is required\"",
        ),
    );
    // htmx follows HX-Redirect whatever the status, so an htmx form lands on the UI.
    if let Some(url) = htmx_redirect.and_then(|url| HeaderValue::try_from(url).ok()) {
        headers.insert("hx-redirect", url);
    }
    response
}

/// The page that re-posts a challenged form once the user is back from the UI: a redirect
/// cannot turn the browser's GET into the POST that was challenged, a form can. It posts
/// at once with a nonce'd script, or on a click where scripts are off; the stashed body
/// replaces the (empty) body it sends, so nothing the user typed passes through the page.
pub(crate) fn resume_page(action: &str) -> Response {
    let mut nonce = [0u8; 16];
    if getrandom::fill(&mut nonce).is_err() {
        // No randomness, no script: the button still works.
        nonce = [0; 16];
    }
    let nonce = base64::Engine::encode(&base64::engine::general_purpose::STANDARD_NO_PAD, nonce);
    let body = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width\"><title>Continuing…</title></head>\
         <body><form id=\"step-up-resume\" method=\"post\" action=\"{action}\">\
         <p>Verified. Continuing with your request…</p>\
         <noscript><button type=\"submit\">Continue</button></noscript></form>\
         <script nonce=\"{nonce}\">document.getElementById(\"step-up-resume\").submit();</script>\
         </body></html>",
        action = escape_html(action),
    );
    let mut response = (StatusCode::OK, axum::response::Html(body)).into_response();
    no_store(&mut response);
    let headers = response.headers_mut();
    // The URL holds the token: it must not leak through a Referer.
    headers.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    if let Ok(csp) = HeaderValue::try_from(format!(
        "default-src 'none'; script-src 'nonce-{nonce}'; form-action 'self'; frame-ancestors 'none'"
    )) {
        headers.insert("content-security-policy", csp);
    }
    response
}
