//! The reviewer's page: the actions in manual review (`REVIEW_REQUIRED`), each with
//! approve and deny, as a reviewer works the queue in the Authsignal Portal. Emulator-only
//! (the Portal is not emulated): a person trying an app that holds reviews decides them
//! here instead of calling `updateAction`.
//!
//! - `GET /v1/emulator/reviews`: the page; `#reviews` lists each action in review, newest
//!   first, as a row `review-<n>` (user, action, idempotency key, when tracked, the
//!   `custom` values it was tracked with), with the buttons `approve-<n>` and `deny-<n>`;
//!   `#empty` when there is none.
//! - `POST /v1/emulator/reviews` (form: `userId`, `action`, `idempotencyKey`, `decision`
//!   `approve` or `deny`, `csrf`): sets the action's state to `REVIEW_SUCCEEDED` or
//!   `REVIEW_FAILED` as `updateAction` does (webhooks included), then 303 back to the page.
//!   A form without its `csrf` (or with another form's) is 403; an action not in review
//!   409; an unknown one 404; a form that cannot be read 400: each a page saying so.
//!
//! Protected like the other `/v1/emulator` routes: Basic auth with the tenant secret (a
//! browser asks for it: the 401 carries `WWW-Authenticate: Basic`; the secret is the user
//! name, the password empty). A browser sends those credentials with any request to the
//! emulator, a form posted from another site's page too, so each form also carries a
//! `csrf` value: an HMAC, under the secret, of the action it decides. Another site cannot
//! compute it. Pages are `no-store`, framed by nobody, and allow no script.

use std::fmt::Write as _;
use std::sync::Arc;

use axum::extract::rejection::FormRejection;
use axum::extract::{Request, State};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Form, Router};
use hmac::{Hmac, KeyInit as _, Mac};
use http::header::WWW_AUTHENTICATE;
use http::{HeaderValue, StatusCode};
use serde::Deserialize;
use sha2::Sha256;
use subtle::ConstantTimeEq as _;

use super::super::api::require_secret;
use super::super::state::Shared;
use super::html::escape;
use super::protected;
use authsignal::types::UserActionState;

/// The page's path.
const PATH: &str = "/v1/emulator/reviews";

/// The reviewer's routes, behind the tenant secret.
pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route(PATH, get(show).post(decide))
        .route_layer(middleware::from_fn_with_state(
            shared.clone(),
            require_secret,
        ))
        // Outside the secret's check, to see its 401.
        .route_layer(middleware::from_fn(ask_browser_for_the_secret))
        .with_state(shared)
}

/// A 401 from the secret's check, with the challenge that makes a browser ask for it.
async fn ask_browser_for_the_secret(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    if response.status() == StatusCode::UNAUTHORIZED {
        response.headers_mut().insert(
            WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"Authsignal emulator\", charset=\"UTF-8\""),
        );
    }
    response
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Decision {
    user_id: String,
    action: String,
    idempotency_key: String,
    decision: String,
    csrf: String,
}

/// The `csrf` value of the form that decides the action `(user_id, action, key)`: an HMAC
/// of them under the tenant secret, in hex.
fn csrf(secret: &str, user_id: &str, action: &str, key: &str) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any length");
    for part in ["emulator reviews", user_id, action, key] {
        // Length-prefixed: no two triples run together alike.
        mac.update(&(part.len() as u64).to_le_bytes());
        mac.update(part.as_bytes());
    }
    let mut hex = String::with_capacity(64);
    for byte in mac.finalize().into_bytes() {
        let _ = write!(hex, "{byte:02x}");
    }
    hex
}

fn page(status: StatusCode, body: &str) -> Response {
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>Reviews</title>\
         <style>body{{font-family:system-ui,sans-serif;margin:2rem}}\
         td,th{{padding:.3rem .6rem;text-align:left;vertical-align:top}}\
         form{{display:inline}}</style></head>\
         <body><main><h1 id=\"heading\">Actions in review</h1>{body}</main></body></html>"
    );
    // No script at all, and forms that post only here.
    protected(
        (status, Html(html)).into_response(),
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; \
             frame-ancestors 'none'; base-uri 'none'",
        ),
    )
}

fn message(status: StatusCode, text: &str) -> Response {
    page(
        status,
        &format!(
            "<p id=\"error\">{}</p><p><a href=\"{PATH}\">Back to the reviews</a></p>",
            escape(text)
        ),
    )
}

/// `GET`: every action in review, newest first.
async fn show(State(shared): State<Arc<Shared>>) -> Response {
    let store = shared.store();
    let mut in_review: Vec<_> = store
        .actions
        .all()
        .filter(|action| action.state == UserActionState::ReviewRequired)
        .collect();
    in_review.sort_by_key(|action| std::cmp::Reverse(action.created_at));
    if in_review.is_empty() {
        return page(
            StatusCode::OK,
            "<p id=\"empty\">No action is waiting for a review.</p>",
        );
    }
    let mut rows = String::from(
        "<table id=\"reviews\"><thead><tr><th>User</th><th>Action</th>\
         <th>Idempotency key</th><th>Tracked</th><th>Custom</th><th>Decision</th></tr></thead><tbody>",
    );
    for (n, action) in in_review.iter().enumerate() {
        let custom = action
            .custom
            .as_ref()
            .map(|custom| serde_json::to_string(custom).unwrap_or_default())
            .unwrap_or_default();
        let csrf = csrf(
            &shared.secret,
            &action.user_id,
            &action.code,
            &action.idempotency_key,
        );
        let form = |decision: &str, label: &str| {
            format!(
                "<form method=\"post\" action=\"{PATH}\">\
                 <input type=\"hidden\" name=\"userId\" value=\"{user}\">\
                 <input type=\"hidden\" name=\"action\" value=\"{code}\">\
                 <input type=\"hidden\" name=\"idempotencyKey\" value=\"{key}\">\
                 <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
                 <button id=\"{decision}-{n}\" name=\"decision\" value=\"{decision}\">{label}</button>\
                 </form>",
                user = escape(&action.user_id),
                code = escape(&action.code),
                key = escape(&action.idempotency_key),
            )
        };
        let _ = write!(
            rows,
            "<tr id=\"review-{n}\"><td>{user}</td><td>{code}</td><td>{key}</td>\
             <td>{tracked}</td><td><code>{custom}</code></td><td>{approve} {deny}</td></tr>",
            user = escape(&action.user_id),
            code = escape(&action.code),
            key = escape(&action.idempotency_key),
            tracked = escape(&action.created_at.rfc3339()),
            custom = escape(&custom),
            approve = form("approve", "Approve"),
            deny = form("deny", "Deny"),
        );
    }
    rows.push_str("</tbody></table>");
    page(StatusCode::OK, &rows)
}

/// `POST`: a reviewer's decision on one action in review.
async fn decide(
    State(shared): State<Arc<Shared>>,
    form: Result<Form<Decision>, FormRejection>,
) -> Response {
    let Ok(Form(form)) = form else {
        return message(StatusCode::BAD_REQUEST, "The form could not be read.");
    };
    let state = match form.decision.as_str() {
        "approve" => UserActionState::ReviewSucceeded,
        "deny" => UserActionState::ReviewFailed,
        _ => return message(StatusCode::BAD_REQUEST, "The decision is approve or deny."),
    };
    let expected = csrf(
        &shared.secret,
        &form.user_id,
        &form.action,
        &form.idempotency_key,
    );
    if !bool::from(expected.as_bytes().ct_eq(form.csrf.as_bytes())) {
        return message(
            StatusCode::FORBIDDEN,
            "This form was not made by this page: open the reviews again.",
        );
    }
    let now = shared.clock.now();
    let mut store = shared.store();
    match store
        .actions
        .get(&form.user_id, &form.action, &form.idempotency_key)
    {
        None => return message(StatusCode::NOT_FOUND, "The action was not found."),
        Some(action) if action.state != UserActionState::ReviewRequired => {
            return message(
                StatusCode::CONFLICT,
                "This action is not in review any more.",
            );
        }
        Some(_) => {}
    }
    match store.update_action(
        &form.user_id,
        &form.action,
        &form.idempotency_key,
        state,
        now,
    ) {
        Ok(_) => Redirect::to(PATH).into_response(),
        Err(_) => message(StatusCode::NOT_FOUND, "The action was not found."),
    }
}
