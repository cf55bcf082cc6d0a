//! The pre-built UI: the page a track `url` opens, where the user proves it is them with
//! an authenticator they have (an authenticator app's code, or a code sent by SMS,
//! WhatsApp or email), or enrolls their first authenticator app.
//!
//! Authenticator binding, as Authsignal documents it for its pre-built UI: a user with no
//! authenticator enrolls an app directly; an enrolled user is challenged with an enrolled
//! method, and may add an app only after passing that challenge (on the settings page a
//! track with `redirectToSettings` leads to) or with a token whose track granted
//! `add:authenticators`. An enrolled user is never offered a new app in place of the
//! challenge.
//!
//! - `GET /ui/challenge?token=<track token>[&method=<METHOD>]`: for an action whose state
//!   is `CHALLENGE_REQUIRED` (or `ALLOW` for a user with no authenticator), the challenge
//!   with the named method if the user has it, else their default: the code form for an
//!   app, a "Send code" button for SMS, WhatsApp and email; links (`use-<METHOD>`) to the
//!   user's other methods. A user with no authenticator is shown an app's key, `otpauth://`
//!   URI and QR code to add first (enrollment). A `CHALLENGE_SUCCEEDED` action tracked with
//!   `redirectToSettings` shows the settings page: the user's methods, an app to add if
//!   they have none, and `continue` back to the app. Otherwise a page says why there is
//!   nothing to do: a bad or expired link (400), a challenge failed or completed, an
//!   allowed action of an enrolled user (`#message`), a blocked or in-review one, or a
//!   user whose authenticators this page cannot use, e.g. only a passkey (`#error`) (200).
//! - `POST /ui/challenge/send` (form: `token`, `method`): sends a code to the user's
//!   authenticator of that method (to the outbox) and answers the code form (200).
//! - `POST /ui/challenge` (form: `token`, `code`, and `challenge_id` for a sent code): a
//!   right code answers **303** to the track's `redirectUrl` with `token=<jwt>` appended
//!   (`?` or `&` as the URL needs), to the settings page for a track with
//!   `redirectToSettings`, or a success page (200) when the track had no `redirectUrl`. A
//!   wrong code answers **400** with the form and the error in `#error`; wrong codes of
//!   every method count toward one limit per action, and the code that reaches it
//!   answers 400 with a page saying so and no form (the action is then
//!   `CHALLENGE_FAILED`).
//!
//! Every page is `Cache-Control: no-store` and `Referrer-Policy: no-referrer` (the token
//! is in the URL), with a CSP that allows no script.

mod html;
pub(crate) mod person;
mod review;

use std::sync::Arc;

use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{Query, State};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use http::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY, REFERRER_POLICY};
use http::{HeaderValue, StatusCode};
use serde::Deserialize;

use super::qr;
use super::state::{MAX_ATTEMPTS, Shared, Store, TotpAttempt};
use super::tokens::{ChallengeClaims, TokenError};
use super::totp::TotpEnrollment;
use authsignal::types::{UserActionState, VerificationMethod};
use html::{Alternative, CodeForm, Enrollment, Page, SendForm, masked};

/// The routes of `/ui` and the emulator's home page.
pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/", get(home))
        .route("/ui/challenge", get(show).post(submit))
        .route("/ui/challenge/send", post(send))
        .with_state(shared.clone())
        .merge(review::router(shared))
}

#[derive(Debug, Deserialize)]
struct ShowQuery {
    token: Option<String>,
    method: Option<String>,
}

#[derive(Debug, Deserialize)]
struct SubmitForm {
    token: String,
    code: String,
    challenge_id: Option<String>,
}

#[derive(Debug, Deserialize)]
struct SendRequest {
    token: String,
    method: String,
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

/// A page with a heading and one line in `#error`.
fn error_page(status: StatusCode, error: &str) -> Response {
    page(
        status,
        Page {
            heading: "Verification",
            error: Some(error),
            ..Page::default()
        },
    )
}

fn bad_link(error: TokenError) -> Response {
    error_page(
        StatusCode::BAD_REQUEST,
        match error {
            TokenError::Expired => "This link has expired. Go back and try again.",
            TokenError::Invalid => "This link is not valid.",
        },
    )
}

const FAILED: &str = "Too many wrong codes: this challenge has failed. Go back and start again.";

const NOTHING_TO_VERIFY: &str = "There is nothing to verify here.";

const NO_USABLE_METHOD: &str = "None of your authenticators can be used on this page (it takes an authenticator app, SMS, WhatsApp or email code).";

const APP_LABEL: &str = "Code from your authenticator app";

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

/// The wire name of a method, and how a link offers it.
fn offer(method: &VerificationMethod) -> (&str, &'static str) {
    let label = match method {
        VerificationMethod::AuthenticatorApp => "Use your authenticator app",
        VerificationMethod::Sms => "Get a code by SMS",
        VerificationMethod::Whatsapp => "Get a code by WhatsApp",
        VerificationMethod::EmailOtp => "Get a code by email",
        _ => "Use another method",
    };
    (method.as_str(), label)
}

/// Links to the methods other than `current`, and to setting up an app when `enroll`.
fn alternatives(
    shared: &Shared,
    token: &str,
    methods: &[VerificationMethod],
    current: Option<&VerificationMethod>,
    enroll: bool,
) -> Vec<Alternative> {
    let link = |method: &str| format!("{}&method={method}", shared.challenge_url(token));
    let mut links: Vec<Alternative> = methods
        .iter()
        .filter(|method| Some(*method) != current)
        .map(|method| {
            let (wire, label) = offer(method);
            Alternative {
                method: wire.to_owned(),
                label: label.to_owned(),
                href: link(wire),
            }
        })
        .collect();
    if enroll {
        let wire = VerificationMethod::AuthenticatorApp.as_str();
        links.push(Alternative {
            method: wire.to_owned(),
            label: "Set up an authenticator app".to_owned(),
            href: link(wire),
        });
    }
    links
}

/// The page of a challenge token.
async fn show(
    State(shared): State<Arc<Shared>>,
    query: Result<Query<ShowQuery>, QueryRejection>,
) -> Response {
    let (token, wanted) = match query {
        Ok(Query(query)) => (query.token.unwrap_or_default(), query.method),
        Err(_) => (String::new(), None),
    };
    let claims = match shared.tokens().read_challenge(&token) {
        Ok(claims) => claims,
        Err(error) => return bad_link(error),
    };
    let wanted = wanted.as_deref().map(VerificationMethod::from);
    let now = shared.clock.now();
    let mut store = shared.store();
    let Some(action) = store.action(
        &claims.other.user_id,
        &claims.other.action_code,
        &claims.other.idempotency_key,
    ) else {
        return bad_link(TokenError::Invalid);
    };
    let settings = action.redirect_to_settings;
    let redirect_url = action.redirect_url.clone();
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
        UserActionState::ChallengeSucceeded if settings => {
            return settings_page(&mut store, &claims, &token, redirect_url, now);
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

    let methods = store.challenge_methods(&claims.sub);
    let has_app = methods.contains(&VerificationMethod::AuthenticatorApp);
    let may_enroll = !has_app && store.may_add_authenticator(&claims);
    let first_time = !store.is_enrolled(&claims.sub);
    // Enrollment: a user's first authenticator, or an app they asked to add where they
    // may. Never in place of a challenge they could take and have not asked to skip.
    let enrolling = may_enroll
        && (first_time
            || wanted == Some(VerificationMethod::AuthenticatorApp)
            || methods.is_empty());
    if enrolling {
        let enrollment = store.start_totp_enrollment(&claims.sub, now);
        let links = alternatives(&shared, &token, &methods, None, false);
        drop(store);
        return app_form(
            &claims,
            &token,
            Some(&enrollment),
            &links,
            None,
            StatusCode::OK,
        );
    }
    let Some(chosen) = wanted
        .filter(|method| methods.contains(method))
        .or_else(|| methods.first().cloned())
    else {
        return done(Page {
            error: Some(NO_USABLE_METHOD),
            ..Page::default()
        });
    };
    let links = alternatives(&shared, &token, &methods, Some(&chosen), may_enroll);
    if chosen == VerificationMethod::AuthenticatorApp {
        drop(store);
        return app_form(&claims, &token, None, &links, None, StatusCode::OK);
    }
    let to = store
        .authenticators
        .iter()
        .filter(|a| a.user_id == claims.sub && a.is_verified() && a.method == chosen)
        .find_map(|a| a.phone_number.clone().or_else(|| a.email.clone()))
        .map(|to| masked(&to))
        .unwrap_or_default();
    drop(store);
    let message = format!(
        "To continue with {}, we will send you a one-time code.",
        claims.other.action_code
    );
    page(
        StatusCode::OK,
        Page {
            heading: "Verify it's you",
            message: Some(&message),
            send_form: Some(SendForm {
                token: &token,
                method: chosen.as_str(),
                to: &to,
            }),
            alternatives: &links,
            ..Page::default()
        },
    )
}

/// The settings page, after a challenge passed on a track with `redirectToSettings`: the
/// user may add an authenticator app now, and continue back to the app.
fn settings_page(
    store: &mut Store,
    claims: &ChallengeClaims,
    token: &str,
    redirect_url: Option<String>,
    now: super::clock::Timestamp,
) -> Response {
    let methods = store.enrolled_methods(&claims.sub);
    let listed = methods
        .iter()
        .map(VerificationMethod::as_str)
        .collect::<Vec<_>>()
        .join(", ");
    let message = format!("You are verified. Your authenticators: {listed}.");
    let enrollment = (!methods.contains(&VerificationMethod::AuthenticatorApp)
        && store.may_add_authenticator(claims))
    .then(|| store.start_totp_enrollment(&claims.sub, now));
    let continue_url = redirect_url.map(|url| with_token(&url, token));
    let qr_svg = enrollment
        .as_ref()
        .and_then(|e| qr::svg(&e.uri))
        .unwrap_or_default();
    page(
        StatusCode::OK,
        Page {
            heading: "Your authenticators",
            message: Some(&message),
            enrollment: enrollment.as_ref().map(|e| Enrollment {
                secret: &e.secret,
                uri: &e.uri,
                qr_svg: &qr_svg,
            }),
            code_form: enrollment.as_ref().map(|_| CodeForm {
                token,
                label: APP_LABEL,
                challenge_id: None,
            }),
            continue_url: continue_url.as_deref(),
            result_token: if continue_url.is_none() {
                Some(token)
            } else {
                None
            },
            ..Page::default()
        },
    )
}

/// The code form of an authenticator app, with the app to set up first if `enrollment`.
fn app_form(
    claims: &ChallengeClaims,
    token: &str,
    enrollment: Option<&TotpEnrollment>,
    alternatives: &[Alternative],
    error: Option<&str>,
    status: StatusCode,
) -> Response {
    let message = format!(
        "Enter the 6-digit code from your authenticator app to continue with {}.",
        claims.other.action_code
    );
    let qr_svg = enrollment.and_then(|e| qr::svg(&e.uri)).unwrap_or_default();
    page(
        status,
        Page {
            heading: "Verify it's you",
            message: Some(&message),
            error,
            enrollment: enrollment.map(|e| Enrollment {
                secret: &e.secret,
                uri: &e.uri,
                qr_svg: &qr_svg,
            }),
            code_form: Some(CodeForm {
                token,
                label: APP_LABEL,
                challenge_id: None,
            }),
            alternatives,
            ..Page::default()
        },
    )
}

/// The code form of a code sent by SMS, WhatsApp or email.
fn sent_code_form(
    token: &str,
    challenge_id: &str,
    to: &str,
    error: Option<&str>,
    status: StatusCode,
) -> Response {
    let to = masked(to);
    page(
        status,
        Page {
            heading: "Verify it's you",
            error,
            sent_to: Some(&to),
            code_form: Some(CodeForm {
                token,
                label: "The code we sent you",
                challenge_id: Some(challenge_id),
            }),
            ..Page::default()
        },
    )
}

/// "Send code": a code by SMS, WhatsApp or email, to the outbox.
async fn send(
    State(shared): State<Arc<Shared>>,
    form: Result<Form<SendRequest>, FormRejection>,
) -> Response {
    let Ok(Form(form)) = form else {
        return error_page(StatusCode::BAD_REQUEST, "The form was incomplete.");
    };
    let claims = match shared.tokens().read_challenge(&form.token) {
        Ok(claims) => claims,
        Err(error) => return bad_link(error),
    };
    let method = VerificationMethod::from(form.method.as_str());
    let now = shared.clock.now();
    let mut store = shared.store();
    let allowed = method != VerificationMethod::AuthenticatorApp
        && store.challenge_methods(&claims.sub).contains(&method);
    if !allowed {
        return error_page(
            StatusCode::BAD_REQUEST,
            "A code cannot be sent to you that way.",
        );
    }
    match store.send_action_code(&claims, &method, now) {
        Ok(sent) => {
            drop(store);
            sent_code_form(
                &form.token,
                &sent.challenge_id,
                &sent.to,
                None,
                StatusCode::OK,
            )
        }
        Err(_) => error_page(StatusCode::BAD_REQUEST, NOTHING_TO_VERIFY),
    }
}

/// A code typed into the page.
async fn submit(
    State(shared): State<Arc<Shared>>,
    form: Result<Form<SubmitForm>, FormRejection>,
) -> Response {
    let Ok(Form(form)) = form else {
        return error_page(StatusCode::BAD_REQUEST, "The form was incomplete.");
    };
    let tokens = shared.tokens();
    let claims = match tokens.read_challenge(&form.token) {
        Ok(claims) => claims,
        Err(error) => return bad_link(error),
    };
    let challenge_id = form.challenge_id.as_deref().filter(|id| !id.is_empty());
    let mut store = shared.store();
    let attempt = match challenge_id {
        Some(id) => store.verify_action_code(&claims, id, &form.code, tokens),
        None => store.verify_totp(&claims, &form.code, tokens),
    };
    match attempt {
        TotpAttempt::Verified {
            token,
            redirect_url,
        } => {
            let settings = store
                .action(
                    &claims.other.user_id,
                    &claims.other.action_code,
                    &claims.other.idempotency_key,
                )
                .is_some_and(|action| action.redirect_to_settings);
            drop(store);
            let location = match (settings, redirect_url) {
                (true, _) => Some(shared.challenge_url(&token)),
                (false, Some(url)) => Some(with_token(&url, &token)),
                (false, None) => None,
            };
            match location {
                Some(location) => {
                    let mut response = Redirect::to(&location).into_response();
                    response
                        .headers_mut()
                        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
                    response
                }
                None => page(
                    StatusCode::OK,
                    Page {
                        heading: "Verified",
                        success: Some("You are verified. You can close this window."),
                        result_token: Some(&token),
                        ..Page::default()
                    },
                ),
            }
        }
        TotpAttempt::Wrong { attempts_left } => {
            let error =
                format!("That code is not right. {attempts_left} of {MAX_ATTEMPTS} attempts left.");
            if let Some(id) = challenge_id {
                let to = store
                    .challenges
                    .iter()
                    .find(|c| c.id == id)
                    .and_then(|c| c.phone_number.clone().or_else(|| c.email.clone()))
                    .unwrap_or_default();
                drop(store);
                return sent_code_form(&form.token, id, &to, Some(&error), StatusCode::BAD_REQUEST);
            }
            // The enrollment in progress, if the user may finish one, is shown again.
            let methods = store.challenge_methods(&claims.sub);
            let enrollment = (!methods.contains(&VerificationMethod::AuthenticatorApp)
                && store.may_add_authenticator(&claims))
            .then(|| store.start_totp_enrollment(&claims.sub, tokens.now));
            drop(store);
            let links = alternatives(
                &shared,
                &form.token,
                &methods,
                Some(&VerificationMethod::AuthenticatorApp),
                false,
            );
            app_form(
                &claims,
                &form.token,
                enrollment.as_ref(),
                &links,
                Some(&error),
                StatusCode::BAD_REQUEST,
            )
        }
        TotpAttempt::LimitReached => error_page(StatusCode::BAD_REQUEST, FAILED),
        TotpAttempt::NoAuthenticator | TotpAttempt::NotChallengeable => {
            error_page(StatusCode::BAD_REQUEST, NOTHING_TO_VERIFY)
        }
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
