//! The gate's HTML: a small page for a refusal answered to a browser navigation, the page
//! that posts a challenged form again once the user is back from the pre-built UI, and the
//! page a browser waits on while its request is held for a review.

use axum::response::{Html, IntoResponse, Response};
use http::{HeaderValue, StatusCode};

use authsignal::safe_text::escape_html;

/// A small, accessible page: a heading and one paragraph, no script, no style, nothing
/// fetched.
pub(crate) fn message(status: StatusCode, heading: &str, text: &str) -> Response {
    let body = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{heading}</title></head>\
         <body><main><h1>{heading}</h1><p role=\"alert\">{text}</p></main></body></html>",
        heading = escape_html(heading),
        text = escape_html(text),
    );
    let mut response = (status, Html(body)).into_response();
    response.headers_mut().insert(
        "content-security-policy",
        HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'"),
    );
    response
}

/// The page a browser waits on while its request is held for a review: `202`, it asks
/// the gate again after `after` by itself, with a refresh (no script: it works where
/// scripts are off), and offers a link to ask now. `check_url` is an absolute URL on the
/// configured origin.
pub(crate) fn waiting(check_url: &str, after: std::time::Duration) -> Response {
    let check_url = escape_html(check_url);
    let body = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta http-equiv=\"refresh\" content=\"{seconds};url={check_url}\">\
         <title>Waiting for a review</title></head>\
         <body><main><h1>Waiting for a review</h1>\
         <p id=\"review-waiting\" role=\"status\">Your request is held until a reviewer \
         approves it. This page checks again every {seconds} seconds; it goes ahead by \
         itself once approved.</p>\
         <p><a id=\"review-check\" href=\"{check_url}\">Check now</a></p></main></body></html>",
        seconds = after.as_secs().max(1),
    );
    let mut response = (StatusCode::ACCEPTED, Html(body)).into_response();
    response.headers_mut().insert(
        "content-security-policy",
        HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'"),
    );
    response
}

/// The name of the form field that marks a post of the resume page.
pub(crate) const RESUME_FIELD: &str = "authsignal-resume";

/// The page that re-posts a challenged form: a redirect cannot turn the browser's GET into
/// the POST that was challenged, a form can. It posts at once with a nonce'd script (a
/// submission during load replaces the page in the history, so the user never comes back
/// to it), or on a click where scripts are off. The form carries only the resume id; the
/// stashed body is what the handler receives, so nothing the user typed passes through
/// the page. `action` is an absolute URL on the configured origin.
pub(crate) fn resume(action: &str, resume_id: &str) -> Response {
    let mut nonce = [0u8; 16];
    if getrandom::fill(&mut nonce).is_err() {
        // No randomness, no script: the button still works.
        nonce = [0; 16];
    }
    let nonce = base64::Engine::encode(&base64::engine::general_purpose::STANDARD_NO_PAD, nonce);
    let body = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>Continuing…</title></head>\
         <body><main><form id=\"step-up-resume\" method=\"post\" action=\"{action}\">\
         <input type=\"hidden\" name=\"{RESUME_FIELD}\" value=\"{resume_id}\">\
         <p role=\"status\">Verified. Continuing with your request…</p>\
         <noscript><button type=\"submit\">Continue</button></noscript></form></main>\
         <script nonce=\"{nonce}\">document.getElementById(\"step-up-resume\").submit();</script>\
         </body></html>",
        action = escape_html(action),
        resume_id = escape_html(resume_id),
    );
    let mut response = (StatusCode::OK, Html(body)).into_response();
    if let Ok(csp) = HeaderValue::try_from(format!(
        "default-src 'none'; script-src 'nonce-{nonce}'; form-action 'self'; frame-ancestors 'none'"
    )) {
        response
            .headers_mut()
            .insert("content-security-policy", csp);
    }
    response
}
