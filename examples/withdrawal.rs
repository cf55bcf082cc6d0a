//! A withdrawal form behind Authsignal step-up, in the browser.
//!
//! ```sh
//! cargo run --example withdrawal
//! ```
//!
//! Open <http://127.0.0.1:3000> (`PORT` overrides), sign in as `demo` / `demo`, and
//! withdraw more than 1000: Authsignal's pre-built UI asks for the code of an
//! authenticator app, then the withdrawal completes without submitting the form again.
//!
//! With no `AUTHSIGNAL_SECRET_KEY` the demo starts the embedded emulator and prints the
//! demo user's authenticator secret (and a page with the current code). With
//! `AUTHSIGNAL_SECRET_KEY` (and `AUTHSIGNAL_API_URL` for another region) it uses your
//! Authsignal tenant, which needs a `withdraw` action with a rule that challenges large
//! amounts (`custom.amount`).

#[path = "common/demo.rs"]
mod demo;

use std::error::Error;
use std::sync::{Arc, Mutex};

use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use axum_authsignal::Authsignal;
use axum_authsignal::emulator::{
    ActionConfig, Condition, EmulatorBuilder, EmulatorHandle, Outcome, Rule, TotpEnrollment,
};
use axum_authsignal::step_up::{Action, StepUp, StepUpConfig};
use demo::{Sessions, escape, page};
use serde::Deserialize;

/// The demo's only user.
pub const DEMO_USER: &str = "demo";
/// Their password.
pub const DEMO_PASSWORD: &str = "demo";
/// Withdrawals above this amount are challenged.
pub const THRESHOLD: f64 = 1000.0;

/// The Authsignal action behind the withdrawal form.
pub struct Withdraw;

impl Action for Withdraw {
    const CODE: &'static str = "withdraw";
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::INFO)
        .init();
    let listener = demo::listen(3000).await?;
    let origin = format!("http://127.0.0.1:{}", listener.local_addr()?.port());

    let (app, emulator) = if demo::uses_authsignal() {
        (app(Authsignal::from_env()?, &origin, None), None)
    } else {
        let (emulator, enrollment) = start_emulator(demo::emulator()).await?;
        let app = app(emulator.client(), &origin, Some(emulator.clone()));
        (app, Some((emulator, enrollment)))
    };

    println!("\naxum-authsignal withdrawal demo\n");
    println!("  open      {origin}  (sign in as {DEMO_USER} / {DEMO_PASSWORD})");
    println!("  step-up   withdrawals above {THRESHOLD} ask for an authenticator-app code");
    match &emulator {
        Some((emulator, enrollment)) => {
            println!(
                "  backend   the embedded Authsignal emulator at {}",
                emulator.api_url()
            );
            println!("            (set AUTHSIGNAL_SECRET_KEY to use your Authsignal tenant)");
            println!(
                "  secret    {}  (add it to any authenticator app)",
                enrollment.secret
            );
            println!("  uri       {}", enrollment.uri);
            println!("  or read the current code at {origin}/demo/code");
        }
        None => {
            println!("  backend   Authsignal, with the key in AUTHSIGNAL_SECRET_KEY");
            println!(
                "            (the tenant needs a `withdraw` action that challenges large amounts)"
            );
        }
    }
    println!();
    axum::serve(listener, app).await?;
    Ok(())
}

/// The app on the embedded emulator, for tests: the router and the emulator behind it.
pub async fn with_emulator(origin: &str) -> (Router, EmulatorHandle) {
    let (emulator, _) = start_emulator(demo::emulator_on_free_port())
        .await
        .expect("the emulator starts on a free port");
    (
        app(emulator.client(), origin, Some(emulator.clone())),
        emulator,
    )
}

/// The emulator with the demo's rule (challenge above the threshold) and the demo user
/// enrolled in an authenticator app.
async fn start_emulator(
    builder: EmulatorBuilder,
) -> std::io::Result<(EmulatorHandle, TotpEnrollment)> {
    let rule = Rule::new("large-withdrawal", Outcome::ChallengeRequired)
        .name("Withdrawals above the threshold")
        .when(Condition::custom_above("amount", THRESHOLD));
    let emulator =
        demo::start_emulator(builder.action(Withdraw::CODE, ActionConfig::allow().rule(rule)))
            .await?;
    let enrollment = emulator.enroll_totp(DEMO_USER);
    Ok((emulator, enrollment))
}

/// The app: sign-in, the withdrawal form, and `POST /withdraw` behind the step-up gate.
/// `origin` is where the app is reached: the pre-built UI sends the browser back there.
pub fn app(client: Authsignal, origin: &str, emulator: Option<EmulatorHandle>) -> Router {
    let state = AppState::default();
    let sessions = state.sessions.clone();
    // Set once for the whole app; every gate made from it shares its store.
    let step_up = StepUpConfig::builder(client)
        .redirect_origin(origin)
        .user_id(move |parts| sessions.user(&parts.headers))
        .build();
    let gate = step_up
        .gate(Withdraw)
        .custom_from_body(["amount"])
        // The form page (GET) is not the action; only the POST is tracked.
        .methods([Method::POST]);
    let router = Router::new()
        .route("/", get(sign_in_page))
        .route("/login", post(login))
        .route("/withdraw", get(withdraw_page).post(withdraw).layer(gate))
        .route("/withdrawals", get(withdrawals))
        .route("/withdrawals/{id}", get(confirmation));
    demo::code_page(router, emulator, DEMO_USER).with_state(state)
}

#[derive(Clone, Default)]
struct AppState {
    sessions: Sessions,
    ledger: Arc<Mutex<Vec<Withdrawal>>>,
}

struct Withdrawal {
    user: String,
    amount: f64,
    /// How the user stepped up, if they were challenged.
    verified_with: Option<String>,
}

#[derive(Deserialize)]
struct Credentials {
    username: String,
    password: String,
}

#[derive(Deserialize)]
struct WithdrawForm {
    amount: String,
}

async fn sign_in_page() -> Html<String> {
    page(
        "Sign in",
        &format!(
            "<form method=\"post\" action=\"/login\">\
             <label>Username <input id=\"username\" name=\"username\" value=\"{DEMO_USER}\"></label>\
             <label>Password <input id=\"password\" name=\"password\" type=\"password\"></label>\
             <button id=\"sign-in\" type=\"submit\">Sign in</button></form>\
             <p class=\"hint\">The demo user is <code>{DEMO_USER}</code> / <code>{DEMO_PASSWORD}</code>.</p>"
        ),
    )
}

async fn login(State(state): State<AppState>, Form(form): Form<Credentials>) -> Response {
    if form.username != DEMO_USER || form.password != DEMO_PASSWORD {
        let body = page(
            "Sign in",
            "<p id=\"error\">Wrong username or password.</p><a href=\"/\">Try again</a>",
        );
        return (StatusCode::UNAUTHORIZED, body).into_response();
    }
    let cookie = state.sessions.start(&form.username);
    ([(header::SET_COOKIE, cookie)], Redirect::to("/withdraw")).into_response()
}

async fn withdraw_page(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let Some(user) = state.sessions.user(&headers) else {
        return Redirect::to("/").into_response();
    };
    page(
        "Withdraw",
        &format!(
            "<p>Signed in as <b>{}</b>.</p>\
             <form method=\"post\" action=\"/withdraw\">\
             <label>Amount <input id=\"amount\" name=\"amount\" inputmode=\"decimal\" required></label>\
             <button id=\"withdraw\" type=\"submit\">Withdraw</button></form>\
             <p class=\"hint\">Amounts above {THRESHOLD} need a step-up.</p>\
             <p><a href=\"/withdrawals\">Past withdrawals</a></p>",
            escape(&user)
        ),
    )
    .into_response()
}

/// Runs only once the gate let the request through: after `ALLOW`, or after the user
/// completed the challenge for this very request. It answers with a redirect to the
/// confirmation (post/redirect/get), so that a refresh shows the confirmation again
/// instead of sending the withdrawal again.
async fn withdraw(
    State(state): State<AppState>,
    step_up: StepUp<Withdraw>,
    Form(form): Form<WithdrawForm>,
) -> Response {
    let Some(amount) = form
        .amount
        .trim()
        .parse::<f64>()
        .ok()
        .filter(|a| a.is_finite() && *a > 0.0)
    else {
        let body = page(
            "Withdraw",
            "<p id=\"error\">Enter a positive amount.</p><a href=\"/withdraw\">Back</a>",
        );
        return (StatusCode::BAD_REQUEST, body).into_response();
    };
    let mut ledger = state.ledger.lock().unwrap();
    ledger.push(Withdrawal {
        user: step_up.user_id().to_owned(),
        amount,
        verified_with: step_up.verification_method().map(ToString::to_string),
    });
    Redirect::to(&format!("/withdrawals/{}", ledger.len())).into_response()
}

/// The confirmation of one withdrawal, for its own user only.
async fn confirmation(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<usize>,
) -> Response {
    let Some(user) = state.sessions.user(&headers) else {
        return Redirect::to("/").into_response();
    };
    let ledger = state.ledger.lock().unwrap();
    let Some(withdrawal) = id
        .checked_sub(1)
        .and_then(|index| ledger.get(index))
        .filter(|withdrawal| withdrawal.user == user)
    else {
        return (
            StatusCode::NOT_FOUND,
            page("Not found", "<p>No such withdrawal.</p>"),
        )
            .into_response();
    };
    let how = match &withdrawal.verified_with {
        Some(method) => format!("verified with {method}"),
        None => "no step-up needed".to_owned(),
    };
    page(
        "Withdrawal confirmed",
        &format!(
            "<p id=\"confirmation\">Withdrawal of {:.2} confirmed ({how}).</p>\
             <p><a href=\"/withdraw\">Another withdrawal</a> · <a href=\"/withdrawals\">Past withdrawals</a></p>",
            withdrawal.amount
        ),
    )
    .into_response()
}

async fn withdrawals(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let Some(user) = state.sessions.user(&headers) else {
        return Redirect::to("/").into_response();
    };
    let items: String = state
        .ledger
        .lock()
        .unwrap()
        .iter()
        .filter(|withdrawal| withdrawal.user == user)
        .map(|withdrawal| {
            format!(
                "<li class=\"withdrawal\">{:.2}{}</li>",
                withdrawal.amount,
                if withdrawal.verified_with.is_some() {
                    " (stepped up)"
                } else {
                    ""
                }
            )
        })
        .collect();
    page(
        "Past withdrawals",
        &format!("<ul id=\"withdrawals\">{items}</ul><a href=\"/withdraw\">Withdraw</a>"),
    )
    .into_response()
}
