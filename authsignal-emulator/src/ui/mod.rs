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
//!   user whose authenticators this page cannot use, e.g. only a batch-enrolled passkey
//!   (`#error`) (200).
//! - `POST /ui/challenge/send` (form: `token`, `method`): sends a code to the user's
//!   authenticator of that method (to the outbox) and answers the code form (200).
//! - A user with a passkey (one registered through the client API: the emulator holds its
//!   key) is offered it first: `#passkey`, a button whose script makes the Web SDK's
//!   `passkey.signIn` calls (`authentication-options`, `navigator.credentials.get`,
//!   `verify/passkey`) with the page's token, then posts the answer's token to
//!   `POST /ui/challenge/passkey` (form: `token`): if a passkey completed that token's
//!   action, the page goes on as after a right code (below); else 400. Without script
//!   the button does nothing and says so.
//! - `POST /ui/challenge` (form: `token`, `code`, and `challenge_id` for a sent code): a
//!   right code answers **303** to the track's `redirectUrl` with `token=<jwt>` appended
//!   (`?` or `&` as the URL needs), to the settings page for a track with
//!   `redirectToSettings`, or a success page (200) when the track had no `redirectUrl`. A
//!   wrong code answers **400** with the form and the error in `#error`; wrong codes of
//!   every method count toward one limit per action, and the code that reaches it
//!   answers 400 with a page saying so and no form (the action is then
//!   `CHALLENGE_FAILED`).
//!
//! Each of these takes `mode=popup` too (in the query, or a form field), as the Web SDK's
//! popup and window modes open the page: the page then keeps `mode` in its forms and
//! links, and for an action whose `redirectUrl` gives a trusted origin (see [`launch`]) it
//! may be framed by that origin, tells it when it is ready, and, where redirect mode
//! would answer 303 to the `redirectUrl`, answers 200 with a page whose script posts the
//! token to that origin (on the settings page, when `continue` is pressed). Another
//! `mode` is a 400 page.
//!
//! Every page is `Cache-Control: no-store` and `Referrer-Policy: no-referrer` (the token
//! is in the URL), with a CSP that runs only the page's own script (see [`csp`]).

mod csp;
mod html;
mod launch;
mod magic_link;
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

use super::error::HttpError;
use super::qr;
use super::state::{MAX_ATTEMPTS, Shared, Store, TotpAttempt};
use super::tokens::{ChallengeClaims, TokenError};
use super::totp::TotpEnrollment;
use authsignal::types::{UserActionState, VerificationMethod, VerifyRequest};
use csp::Nonce;
use html::{Alternative, CodeForm, Enrollment, Page, PopupOpener, SendForm, masked};
use launch::{Launch, Mode};

/// The routes of `/ui` and the emulator's home page.
pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/", get(home))
        .route("/ui/challenge", get(show).post(submit))
        .route("/ui/challenge/send", post(send))
        .route("/ui/magic-link", get(magic_link::follow))
        .route("/ui/challenge/passkey", post(passkey_done))
        .with_state(shared.clone())
        .merge(review::router(shared))
}

#[derive(Debug, Deserialize)]
struct ShowQuery {
    token: Option<String>,
    method: Option<String>,
    mode: Option<String>,
}

#[derive(Debug, Deserialize)]
struct SubmitForm {
    token: String,
    code: String,
    challenge_id: Option<String>,
    mode: Option<String>,
}

#[derive(Debug, Deserialize)]
struct SendRequest {
    token: String,
    method: String,
    mode: Option<String>,
}

/// The policy of a page whose own policy could not be a header: no script, no framing.
const FALLBACK_POLICY: &str =
    "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; frame-ancestors 'none'";

fn page(status: StatusCode, page: Page<'_>) -> Response {
    let nonce = Nonce::new();
    let policy = csp::policy(
        &nonce,
        page.opener.map(|opener| opener.origin),
        page.passkey.is_some(),
    );
    let policy = HeaderValue::from_str(&policy)
        .unwrap_or_else(|_| HeaderValue::from_static(FALLBACK_POLICY));
    protected((status, Html(page.render(&nonce))).into_response(), policy)
}

/// `response` with the headers every page of the UI carries: never cached, never the
/// referrer of what it links to (its URL may hold a token), and the page's `policy`.
fn protected(mut response: Response, policy: HeaderValue) -> Response {
    let headers = response.headers_mut();
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(CONTENT_SECURITY_POLICY, policy);
    response
}

/// What a page opened as `launch` says to its opener (`token` once verified), if it
/// reports to one.
fn opener_of<'a>(launch: &'a Launch, token: Option<&'a str>) -> Option<PopupOpener<'a>> {
    launch.opener().map(|opener| PopupOpener {
        origin: opener.origin(),
        token,
    })
}

/// How the page of a token's action was opened: `mode`, and the action's app.
fn launch_of(store: &Store, claims: &ChallengeClaims, mode: Mode) -> Launch {
    let target = &claims.other;
    let app_origin = store
        .action(
            &target.user_id,
            &target.action_code,
            &target.idempotency_key,
        )
        .and_then(|action| action.app_origin());
    Launch::new(mode, app_origin)
}

/// The page of `token` in `mode`: the track `url` with `mode` kept.
fn challenge_url(shared: &Shared, token: &str, mode: Mode) -> String {
    let url = shared.challenge_url(token);
    match mode.param() {
        Some(mode) => format!("{url}&mode={mode}"),
        None => url,
    }
}

/// A page with a heading and one line in `#error`.
fn error_page(status: StatusCode, error: &str) -> Response {
    error_in(&Launch::default(), status, error)
}

/// [`error_page`] for a page opened as `launch`: it may show in the opener's popup.
fn error_in(launch: &Launch, status: StatusCode, error: &str) -> Response {
    page(
        status,
        Page {
            heading: "Verification",
            error: Some(error),
            opener: opener_of(launch, None),
            ..Page::default()
        },
    )
}

/// The claims of a page's token and the mode it is shown in; else the page that says
/// what is wrong with them.
fn token_and_mode(
    shared: &Shared,
    token: &str,
    mode: Option<&str>,
) -> Result<(ChallengeClaims, Mode), Box<Response>> {
    let Ok(mode) = Mode::parse(mode) else {
        return Err(Box::new(error_page(StatusCode::BAD_REQUEST, UNKNOWN_MODE)));
    };
    let claims = shared
        .tokens()
        .read_challenge(token)
        .map_err(|error| Box::new(bad_link(error)))?;
    Ok((claims, mode))
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

const UNKNOWN_MODE: &str = "This page cannot be opened that way.";

const NO_USABLE_METHOD: &str = "None of your authenticators can be used on this page (it takes a passkey, or an authenticator app, SMS, WhatsApp or email code).";

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
        VerificationMethod::Passkey => "Use your passkey",
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
    mode: Mode,
    methods: &[VerificationMethod],
    current: Option<&VerificationMethod>,
    enroll: bool,
) -> Vec<Alternative> {
    let link = |method: &str| format!("{}&method={method}", challenge_url(shared, token, mode));
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
    let (token, wanted, mode) = match query {
        Ok(Query(query)) => (query.token.unwrap_or_default(), query.method, query.mode),
        Err(_) => (String::new(), None, None),
    };
    let (claims, mode) = match token_and_mode(&shared, &token, mode.as_deref()) {
        Ok(read) => read,
        Err(refused) => return *refused,
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
    let launch = Launch::new(mode, action.app_origin());
    // A page with one line and no form; `text` says in which element.
    let done = |text: Page<'_>| {
        page(
            StatusCode::OK,
            Page {
                heading: "Verification",
                opener: opener_of(&launch, None),
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
            return settings_page(&mut store, &claims, &token, &launch, redirect_url, now);
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
        let links = alternatives(&shared, &token, mode, &methods, None, false);
        drop(store);
        return app_form(
            &claims,
            &token,
            &launch,
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
    let links = alternatives(&shared, &token, mode, &methods, Some(&chosen), may_enroll);
    if chosen == VerificationMethod::AuthenticatorApp {
        drop(store);
        return app_form(&claims, &token, &launch, None, &links, None, StatusCode::OK);
    }
    if chosen == VerificationMethod::Passkey {
        drop(store);
        let message = format!(
            "To continue with {}, use your passkey.",
            claims.other.action_code
        );
        return page(
            StatusCode::OK,
            Page {
                heading: "Verify it's you",
                message: Some(&message),
                passkey: Some(&token),
                alternatives: &links,
                mode: mode.param(),
                opener: opener_of(&launch, None),
                ..Page::default()
            },
        );
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
            mode: mode.param(),
            opener: opener_of(&launch, None),
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
    launch: &Launch,
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
            mode: launch.mode().param(),
            opener: opener_of(launch, Some(token)),
            ..Page::default()
        },
    )
}

/// The code form of an authenticator app, with the app to set up first if `enrollment`.
fn app_form(
    claims: &ChallengeClaims,
    token: &str,
    launch: &Launch,
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
            mode: launch.mode().param(),
            opener: opener_of(launch, None),
            ..Page::default()
        },
    )
}

/// The code form of a code sent by SMS, WhatsApp or email.
fn sent_code_form(
    token: &str,
    launch: &Launch,
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
            mode: launch.mode().param(),
            opener: opener_of(launch, None),
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
    let (claims, mode) = match token_and_mode(&shared, &form.token, form.mode.as_deref()) {
        Ok(read) => read,
        Err(refused) => return *refused,
    };
    let method = VerificationMethod::from(form.method.as_str());
    let now = shared.clock.now();
    let (launch, sent) = {
        let mut store = shared.store();
        let launch = launch_of(&store, &claims, mode);
        let sendable = matches!(
            method,
            VerificationMethod::Sms | VerificationMethod::Whatsapp | VerificationMethod::EmailOtp
        );
        let allowed = sendable && store.challenge_methods(&claims.sub).contains(&method);
        if !allowed {
            return error_in(
                &launch,
                StatusCode::BAD_REQUEST,
                "A code cannot be sent to you that way.",
            );
        }
        let sent = store.send_action_code(&claims, &method, now);
        (launch, sent)
    };
    let sent = match sent {
        Ok(sent) => sent,
        // Past the send limit: say so, as for any refused send below.
        Err(error) if error.status == StatusCode::TOO_MANY_REQUESTS => {
            return error_in(&launch, error.status, &error.description);
        }
        Err(_) => return error_in(&launch, StatusCode::BAD_REQUEST, NOTHING_TO_VERIFY),
    };
    match shared.send(sent.sending).await {
        Ok(challenge_id) => sent_code_form(
            &form.token,
            &launch,
            &challenge_id,
            &sent.to,
            None,
            StatusCode::OK,
        ),
        Err(error) => error_in(&launch, error.status, &error.description),
    }
}

/// A right code waits for the action's `action.verify`, if it has one, before it is used:
/// refused, the page says so and the code stays good for another try.
async fn verification_gate(
    shared: &Shared,
    claims: &ChallengeClaims,
    challenge_id: Option<&str>,
    code: &str,
) -> Result<(), HttpError> {
    let gate = {
        let store = shared.store();
        let now = shared.clock.now();
        match challenge_id {
            Some(id) => store
                .would_complete(
                    &VerifyRequest {
                        challenge_id: id.to_owned(),
                        verification_code: code.to_owned(),
                    },
                    now,
                )
                // Another action's code completes nothing here (`verify_action_code`).
                .filter(|(target, _)| *target == claims.other)
                .map(|(target, method)| store.verification_gate(&target, &method, None, now)),
            None => store.would_verify_totp(claims, code, now).map(|app| {
                store.verification_gate(
                    &claims.other,
                    &VerificationMethod::AuthenticatorApp,
                    Some(&app),
                    now,
                )
            }),
        }
    };
    match gate {
        Some(gate) => gate.accepted().await,
        None => Ok(()),
    }
}

#[derive(Debug, Deserialize)]
struct PasskeyDone {
    token: String,
    mode: Option<String>,
}

/// After the page's script verified a passkey through the client API: `token` is the
/// token that answered, and the page goes on as after a right code, if a passkey
/// completed its action.
async fn passkey_done(
    State(shared): State<Arc<Shared>>,
    form: Result<Form<PasskeyDone>, FormRejection>,
) -> Response {
    let Ok(Form(form)) = form else {
        return error_page(StatusCode::BAD_REQUEST, "The form was incomplete.");
    };
    let (claims, mode) = match token_and_mode(&shared, &form.token, form.mode.as_deref()) {
        Ok(read) => read,
        Err(refused) => return *refused,
    };
    let store = shared.store();
    let launch = launch_of(&store, &claims, mode);
    if !store.passed_with_passkey(&claims) {
        return error_in(&launch, StatusCode::BAD_REQUEST, NOTHING_TO_VERIFY);
    }
    let target = &claims.other;
    let (redirect_url, settings) = store
        .action(
            &target.user_id,
            &target.action_code,
            &target.idempotency_key,
        )
        .map(|action| (action.redirect_url.clone(), action.redirect_to_settings))
        .unwrap_or_default();
    drop(store);
    verified(&shared, &launch, &form.token, redirect_url, settings)
}

/// A code typed into the page.
async fn submit(
    State(shared): State<Arc<Shared>>,
    form: Result<Form<SubmitForm>, FormRejection>,
) -> Response {
    let Ok(Form(form)) = form else {
        return error_page(StatusCode::BAD_REQUEST, "The form was incomplete.");
    };
    let (claims, mode) = match token_and_mode(&shared, &form.token, form.mode.as_deref()) {
        Ok(read) => read,
        Err(refused) => return *refused,
    };
    let tokens = shared.tokens();
    let challenge_id = form.challenge_id.as_deref().filter(|id| !id.is_empty());
    let launch = launch_of(&shared.store(), &claims, mode);
    if let Err(error) = verification_gate(&shared, &claims, challenge_id, &form.code).await {
        return error_in(&launch, error.status, &error.description);
    }
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
            verified(&shared, &launch, &token, redirect_url, settings)
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
                return sent_code_form(
                    &form.token,
                    &launch,
                    id,
                    &to,
                    Some(&error),
                    StatusCode::BAD_REQUEST,
                );
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
                mode,
                &methods,
                Some(&VerificationMethod::AuthenticatorApp),
                false,
            );
            app_form(
                &claims,
                &form.token,
                &launch,
                enrollment.as_ref(),
                &links,
                Some(&error),
                StatusCode::BAD_REQUEST,
            )
        }
        TotpAttempt::LimitReached => error_in(&launch, StatusCode::BAD_REQUEST, FAILED),
        TotpAttempt::NoAuthenticator | TotpAttempt::NotChallengeable => {
            error_in(&launch, StatusCode::BAD_REQUEST, NOTHING_TO_VERIFY)
        }
    }
}

/// The answer once the user is verified and `token` is the new token: the settings page
/// (for a track with `redirectToSettings`), the token posted to the opener (popup or
/// window mode), a 303 to the `redirect_url` with the token, or a page showing it.
fn verified(
    shared: &Shared,
    launch: &Launch,
    token: &str,
    redirect_url: Option<String>,
    settings: bool,
) -> Response {
    if !settings && launch.opener().is_some() {
        // Popup or window mode: the script hands the token to the app's page.
        return page(
            StatusCode::OK,
            Page {
                heading: "Verified",
                success: Some("You are verified. You can close this window."),
                opener: opener_of(launch, Some(token)),
                ..Page::default()
            },
        );
    }
    let location = match (settings, redirect_url) {
        (true, _) => Some(challenge_url(shared, token, launch.mode())),
        (false, Some(url)) => Some(with_token(&url, token)),
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
                result_token: Some(token),
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
