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
#[path = "common/withdrawals.rs"]
mod withdrawals;

use std::error::Error;
use std::sync::Arc;

use authsignal_emulator::{EmulatorBuilder, EmulatorHandle, TotpEnrollment};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use axum_authsignal::Authsignal;
use axum_authsignal::store::PendingChallengeStore;
use axum_authsignal::{Action, StepUp, StepUpConfig};
use demo::Sessions;
use serde::Deserialize;
use withdrawals::Ledger;
pub use withdrawals::{REVIEW_THRESHOLD, THRESHOLD, Withdraw};

/// The demo's only user.
pub const DEMO_USER: &str = "demo";
/// Their password.
pub const DEMO_PASSWORD: &str = "demo";

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::INFO)
        .init();
    let listener = demo::listen(3000).await?;
    let origin = format!("http://127.0.0.1:{}", listener.local_addr()?.port());
    let (store, store_line) = demo::challenge_store().await?;

    let (app, emulator) = if demo::uses_authsignal() {
        (app(Authsignal::from_env()?, &origin, None, store), None)
    } else {
        let (emulator, enrollment) = start_emulator(demo::emulator()).await?;
        let app = app(emulator.client(), &origin, Some(emulator.clone()), store);
        (app, Some((emulator, enrollment)))
    };

    println!("\naxum-authsignal withdrawal demo\n");
    println!("  open      {origin}  (sign in as {DEMO_USER} / {DEMO_PASSWORD})");
    println!("  step-up   withdrawals above {THRESHOLD} ask for an authenticator-app code");
    println!("  review    withdrawals above {REVIEW_THRESHOLD} wait for a reviewer's approval");
    match &emulator {
        Some((emulator, enrollment)) => {
            println!(
                "  backend   the embedded Authsignal emulator at {}",
                emulator.api_url()
            );
            println!(
                "  reviewer  {}/emulator/reviews  (user name: the emulator's secret, no password)",
                emulator.api_url()
            );
            println!("            (set AUTHSIGNAL_SECRET_KEY to use your Authsignal tenant)");
            println!("{}", demo::enrollment_banner(enrollment));
            println!("  or read the current code at {origin}/demo/code");
        }
        None => {
            println!("  backend   Authsignal, with the key in AUTHSIGNAL_SECRET_KEY");
            println!(
                "            (the tenant needs a `withdraw` action that challenges large amounts)"
            );
        }
    }
    println!("  store     {store_line}");
    println!();
    demo::serve(listener, app).await?;
    Ok(())
}

/// The app on the embedded emulator, for tests: the router and the emulator behind it.
pub async fn with_emulator(origin: &str) -> (Router, EmulatorHandle) {
    let (emulator, _) = start_emulator(demo::emulator_on_free_port())
        .await
        .expect("the emulator starts on a free port");
    (
        app(
            emulator.client(),
            origin,
            Some(emulator.clone()),
            demo::memory_store(),
        ),
        emulator,
    )
}

/// The emulator with the demo's rules (a review above the review threshold, a challenge
/// above the threshold) and the demo user enrolled in an authenticator app.
async fn start_emulator(
    builder: EmulatorBuilder,
) -> std::io::Result<(EmulatorHandle, TotpEnrollment)> {
    let rules = withdrawals::action_config_with_review();
    let emulator = demo::start_emulator(builder.action(Withdraw::CODE, rules)).await?;
    let enrollment = emulator.enroll_totp(DEMO_USER);
    Ok((emulator, enrollment))
}

/// The app: sign-in, the withdrawal form, and `POST /withdraw` behind the step-up gate.
/// `origin` is where the app is reached: the pre-built UI sends the browser back there.
pub fn app(
    client: Authsignal,
    origin: &str,
    emulator: Option<EmulatorHandle>,
    store: Arc<dyn PendingChallengeStore>,
) -> Router {
    let state = AppState::default();
    let sessions = state.sessions.clone();
    // Set once for the whole app; every gate made from it shares its store.
    let step_up = StepUpConfig::builder(client)
        .store(store)
        .redirect_origin(origin)
        .user_id(move |parts| sessions.user(&parts.headers))
        .build();
    let gate = step_up
        .gate(Withdraw)
        .custom_from_body(["amount"])
        // The form page (GET) is not the action; only the POST is tracked.
        .methods([Method::POST])
        // A withdrawal sent to a manual review waits on a page that checks back by
        // itself, and goes ahead once a reviewer approves it.
        .hold_reviews();
    let router = Router::new()
        .route("/", get(sign_in_page))
        .route("/login", post(login))
        .route("/withdraw", get(withdraw_page).post(withdraw).layer(gate))
        .route("/withdrawals", get(past_withdrawals))
        .route("/withdrawals/{id}", get(confirmation));
    demo::code_page(router, emulator, DEMO_USER).with_state(state)
}

#[derive(Clone, Default)]
struct AppState {
    sessions: Sessions,
    ledger: Ledger,
}

#[derive(Deserialize)]
struct Credentials {
    username: String,
    password: String,
}

async fn sign_in_page() -> Html<String> {
    withdrawals::sign_in_page(
        DEMO_USER,
        &format!("The demo user is <code>{DEMO_USER}</code> / <code>{DEMO_PASSWORD}</code>."),
    )
}

async fn login(State(state): State<AppState>, Form(form): Form<Credentials>) -> Response {
    if form.username != DEMO_USER || form.password != DEMO_PASSWORD {
        return withdrawals::wrong_password();
    }
    let cookie = state.sessions.start(&form.username);
    ([(header::SET_COOKIE, cookie)], Redirect::to("/withdraw")).into_response()
}

async fn withdraw_page(State(state): State<AppState>, headers: HeaderMap) -> Response {
    match state.sessions.user(&headers) {
        Some(user) => withdrawals::form_page(&user, "").into_response(),
        None => Redirect::to("/").into_response(),
    }
}

/// Runs only once the gate let the request through: after `ALLOW`, or after the user
/// completed the challenge for this very request.
async fn withdraw(State(state): State<AppState>, step_up: StepUp<Withdraw>) -> Response {
    state.ledger.withdraw(&step_up)
}

/// The confirmation of one withdrawal, for its own user only.
async fn confirmation(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<usize>,
) -> Response {
    match state.sessions.user(&headers) {
        Some(user) => state.ledger.confirmation(&user, id),
        None => Redirect::to("/").into_response(),
    }
}

/// The signed-in user's past withdrawals.
async fn past_withdrawals(State(state): State<AppState>, headers: HeaderMap) -> Response {
    match state.sessions.user(&headers) {
        Some(user) => state.ledger.list(&user),
        None => Redirect::to("/").into_response(),
    }
}
