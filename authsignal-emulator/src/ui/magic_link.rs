//! `GET /ui/magic-link?token=<secret>`: the page an email magic link opens, where the
//! user's following the link proves they hold the inbox. The browser tab that asked for
//! the link (polling `finalize` with its challenge token) then completes the action; this
//! page completes nothing by itself and hands out no token.
//!
//! A link works once, for [`CODE_LIFETIME`](crate::CODE_LIFETIME): followed again,
//! expired, or with an unknown secret, the page answers 400 with `#error`; followed, 200
//! with `#message`. A `HEAD` (a mail scanner's or a link preview's check) follows
//! nothing: only the person opening the page does.

use std::sync::Arc;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::response::{IntoResponse as _, Response};
use http::{Method, StatusCode};
use serde::Deserialize;

use super::super::state::Shared;
use super::html::Page;
use super::{error_page, page};

#[derive(Debug, Deserialize)]
pub(super) struct LinkQuery {
    token: String,
}

/// Follows the link.
pub(super) async fn follow(
    State(shared): State<Arc<Shared>>,
    method: Method,
    query: Result<Query<LinkQuery>, QueryRejection>,
) -> Response {
    // axum answers HEAD with the GET handler: a HEAD must not spend the link.
    if method == Method::HEAD {
        return StatusCode::OK.into_response();
    }
    let Ok(Query(query)) = query else {
        return error_page(StatusCode::BAD_REQUEST, "This link is not valid.");
    };
    let now = shared.clock.now();
    if !shared.store().follow_magic_link(&query.token, now) {
        return error_page(
            StatusCode::BAD_REQUEST,
            "This link is not valid: it has expired or has already been used.",
        );
    }
    page(
        StatusCode::OK,
        Page {
            heading: "Email verified",
            message: Some("You can close this tab and go back to where you started."),
            ..Page::default()
        },
    )
}
