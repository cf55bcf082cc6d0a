//! The pre-built UI: the page a track `url` opens, where the user types the code of their
//! authenticator app (and, if they have none yet, first sees the key to add to it).
//!
//! - `GET /ui/challenge?token=<track token>`: the code form (200) for an action whose
//!   state is `CHALLENGE_REQUIRED`, or `ALLOW` for a user with no authenticator (who is
//!   shown an authenticator app's key to add first: enrollment); else a page saying why
//!   there is nothing to do: a bad or expired link (400), a challenge already failed or
//!   completed, an allowed action of an enrolled user (`#message`), a blocked or
//!   in-review one (`#error`) (all 200).
//! - `POST /ui/challenge` (form: `token`, `code`): a right code answers **303** to the
//!   track's `redirectUrl` with `token=<jwt>` appended (`?` or `&` as the URL needs), or a
//!   success page (200) when the track had no `redirectUrl`. A wrong code answers **400**
//!   with the form again and the error in `#error`; the code that reaches the attempt
//!   limit answers 400 with a page saying so and no form, and the action is then
//!   `CHALLENGE_FAILED`.
//!
//! Every page is `Cache-Control: no-store` and `Referrer-Policy: no-referrer` (the token
//! is in the URL), with a CSP that allows no script.

mod html;
pub(crate) mod person;

use std::sync::Arc;

use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{Query, State};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Form, Router};
use http::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY, REFERRER_POLICY};
use http::{HeaderValue, StatusCode};
use serde::Deserialize;

use super::state::{MAX_ATTEMPTS, Shared, TotpAttempt};
use super::tokens::{ChallengeClaims, TokenError};
use crate::{UserActionState, VerificationMethod};
use html::{Enrollment, Page};

/// The routes of `/ui` and the emulator's home page.
pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/", get(home))
        .route("/ui/challenge", get(show).post(submit))
        .with_state(shared)
}

#[derive(Debug, Deserialize)]
struct ShowQuery {
    token: Option<String>,
}

#[derive(Debug, Deserialize)]
struct SubmitForm {
    token: String,
    code: String,
}

fn page(status: StatusCode, page: Page<'_>) -> Response {
    let mut response = (status, Html(page.render())).into_response();
    let headers = response.headers_mut();
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(
        CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
        ),
    );
    response
}

fn bad_link(error: TokenError) -> Response {
    let error = match error {
        TokenError::Expired => "This link has expired. Go back and try again.",
        TokenError::Invalid => "This link is not valid.",
    };
    page(
        StatusCode::BAD_REQUEST,
        Page {
            heading: "Verification",
            error: Some(error),
            ..Page::default()
        },
    )
}

const FAILED: &str = "Too many wrong codes: this challenge has failed. Go back and start again.";

const NOTHING_TO_VERIFY: &str = "There is nothing to verify here.";

async fn home(State(shared): State<Arc<Shared>>) -> Response {
    let message = format!(
        "The Server API is at {}/v1. The pre-built UI opens from a track url.",
        shared.origin
    );
    page(
        StatusCode::OK,
        Page {
            heading: "Authsignal emulator",
            message: Some(&message),
            ..Page::default()
        },
    )
}

/// The page of a challenge token.
async fn show(
    State(shared): State<Arc<Shared>>,
    query: Result<Query<ShowQuery>, QueryRejection>,
) -> Response {
    let token = query
        .ok()
        .and_then(|Query(query)| query.token)
        .unwrap_or_default();
    let claims = match shared.tokens().read_challenge(&token) {
        Ok(claims) => claims,
        Err(error) => return bad_link(error),
    };
    let now = shared.clock.now();
    let mut store = shared.store();
    let Some(action) = store.action(
        &claims.other.user_id,
        &claims.other.action_code,
        &claims.other.idempotency_key,
    ) else {
        return bad_link(TokenError::Invalid);
    };
    // A page with one line and no form; `text` says in which element.
    let done = |text: Page<'_>| {
        page(
            StatusCode::OK,
            Page {
                heading: "Verification",
                ..text
            },
        )
    };
    match action.state {
        UserActionState::ChallengeRequired => {}
        // An allowed action of a user with no authenticator: the page enrolls them (the
        // link Authsignal's Auth0 helper sends such users to).
        UserActionState::Allow if !store.is_enrolled(&claims.sub) => {}
        UserActionState::Allow => {
            return done(Page {
                message: Some(NOTHING_TO_VERIFY),
                ..Page::default()
            });
        }
        UserActionState::ChallengeFailed => {
            return done(Page {
                error: Some(FAILED),
                ..Page::default()
            });
        }
        UserActionState::ChallengeSucceeded => {
            return done(Page {
                success: Some("This challenge is already complete."),
                ..Page::default()
            });
        }
        _ => {
            return done(Page {
                error: Some(NOTHING_TO_VERIFY),
                ..Page::default()
            });
        }
    }
    let has_app = store
        .enrolled_methods(&claims.sub)
        .contains(&VerificationMethod::AuthenticatorApp);
    let enrollment = (!has_app).then(|| store.start_totp_enrollment(&claims.sub, now));
    drop(store);
    code_form(&claims, &token, enrollment.as_ref(), None, StatusCode::OK)
}

fn code_form(
    claims: &ChallengeClaims,
    token: &str,
    enrollment: Option<&super::totp::TotpEnrollment>,
    error: Option<&str>,
    status: StatusCode,
) -> Response {
    let message = format!(
        "Enter the 6-digit code from your authenticator app to continue with {}.",
        claims.other.action_code
    );
    page(
        status,
        Page {
            heading: "Verify it's you",
            message: Some(&message),
            error,
            enrollment: enrollment.map(|e| Enrollment {
                secret: &e.secret,
                uri: &e.uri,
            }),
            form_token: Some(token),
            ..Page::default()
        },
    )
}

/// A code typed into the page.
async fn submit(
    State(shared): State<Arc<Shared>>,
    form: Result<Form<SubmitForm>, FormRejection>,
) -> Response {
    let Ok(Form(form)) = form else {
        return page(
            StatusCode::BAD_REQUEST,
            Page {
                heading: "Verification",
                error: Some("The form was incomplete."),
                ..Page::default()
            },
        );
    };
    let tokens = shared.tokens();
    let claims = match tokens.read_challenge(&form.token) {
        Ok(claims) => claims,
        Err(error) => return bad_link(error),
    };
    let mut store = shared.store();
    let attempt = store.verify_totp(&claims, &form.code, tokens);
    match attempt {
        TotpAttempt::Verified {
            token,
            redirect_url: Some(redirect_url),
        } => {
            let mut response = Redirect::to(&with_token(&redirect_url, &token)).into_response();
            response
                .headers_mut()
                .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
            response
        }
        TotpAttempt::Verified {
            token,
            redirect_url: None,
        } => page(
            StatusCode::OK,
            Page {
                heading: "Verified",
                success: Some("You are verified. You can close this window."),
                result_token: Some(&token),
                ..Page::default()
            },
        ),
        TotpAttempt::Wrong { attempts_left } => {
            // The enrollment in progress, if any, is shown again with the form.
            let has_app = store
                .enrolled_methods(&claims.sub)
                .contains(&VerificationMethod::AuthenticatorApp);
            let enrollment =
                (!has_app).then(|| store.start_totp_enrollment(&claims.sub, tokens.now));
            drop(store);
            let error =
                format!("That code is not right. {attempts_left} of {MAX_ATTEMPTS} attempts left.");
            code_form(
                &claims,
                &form.token,
                enrollment.as_ref(),
                Some(&error),
                StatusCode::BAD_REQUEST,
            )
        }
        TotpAttempt::LimitReached => page(
            StatusCode::BAD_REQUEST,
            Page {
                heading: "Verification",
                error: Some(FAILED),
                ..Page::default()
            },
        ),
        TotpAttempt::NoAuthenticator | TotpAttempt::NotChallengeable => page(
            StatusCode::BAD_REQUEST,
            Page {
                heading: "Verification",
                error: Some("There is nothing to verify here."),
                ..Page::default()
            },
        ),
    }
}

/// `url` with `token=<token>` added to its query (`?` or `&` as it needs), before any
/// fragment.
fn with_token(url: &str, token: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(mut parsed) => {
            parsed.query_pairs_mut().append_pair("token", token);
            parsed.into()
        }
        Err(_) => {
            let (base, fragment) = url
                .split_once('#')
                .map_or((url, None), |(b, f)| (b, Some(f)));
            let separator = if base.contains('?') { '&' } else { '?' };
            let mut out = format!("{base}{separator}token={token}");
            if let Some(fragment) = fragment {
                out.push('#');
                out.push_str(fragment);
            }
            out
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_joins_the_query_the_way_the_url_needs() {
        assert_eq!(
            with_token("https://app.example/done", "t"),
            "https://app.example/done?token=t"
        );
        assert_eq!(
            with_token("https://app.example/done?x=1#top", "t"),
            "https://app.example/done?x=1&token=t#top"
        );
        assert_eq!(with_token("/done?x=1", "t"), "/done?x=1&token=t");
    }
}
