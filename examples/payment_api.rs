//! A JSON payments API behind Authsignal step-up, for API clients with their own UI.
//!
//! ```sh
//! cargo run --example payment_api
//! ```
//!
//! A payment above 100 answers 401 with a challenge token. The client's own UI completes
//! the challenge through Authsignal's client API (here: the authenticator-app code,
//! `POST /v1/client/verify/totp` with the token as Bearer) and sends the payment again
//! with the new token in `X-Authsignal-Token`. The README walks through it with curl.
//!
//! Without `AUTHSIGNAL_SECRET_KEY` the embedded emulator serves Authsignal on
//! <http://127.0.0.1:8787/v1> (`EMULATOR_PORT` overrides) and `GET /demo/code` gives the
//! demo user's current code.

#[path = "common/demo.rs"]
mod demo;

use std::error::Error;
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use axum_authsignal::Authsignal;
use axum_authsignal::emulator::{
    ActionConfig, Condition, EmulatorBuilder, EmulatorHandle, Outcome, Rule,
};
use axum_authsignal::step_up::{ClientKind, StepUp, StepUpLayer};
use serde::Deserialize;
use serde_json::{Value, json};

/// The demo's API key; it belongs to [`DEMO_USER`].
pub const DEMO_API_KEY: &str = "demo-api-key";
/// The user behind the demo API key.
pub const DEMO_USER: &str = "demo";
/// Payments above this amount are challenged.
pub const THRESHOLD: f64 = 100.0;
const ACTION: &str = "payment";

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::INFO)
        .init();
    let listener = demo::listen(3000).await?;
    let origin = format!("http://127.0.0.1:{}", listener.local_addr()?.port());
    println!("\naxum-authsignal payment API demo\n");
    println!("  API       {origin}/payments  (Authorization: Bearer {DEMO_API_KEY})");
    println!("  step-up   payments above {THRESHOLD} answer 401 with a challenge token");
    let app = if demo::uses_authsignal() {
        println!("  backend   Authsignal, with the key in AUTHSIGNAL_SECRET_KEY");
        app(Authsignal::from_env()?, None)
    } else {
        let emulator = start_emulator(demo::emulator()).await?;
        println!(
            "  backend   the embedded Authsignal emulator at {}",
            emulator.api_url()
        );
        println!("  code      GET {origin}/demo/code gives the demo user's current code");
        app(emulator.client(), Some(emulator))
    };
    println!();
    axum::serve(listener, app).await?;
    Ok(())
}

/// The API on a fresh emulator (on a free port), for tests.
pub async fn with_emulator() -> (Router, EmulatorHandle) {
    let emulator = start_emulator(demo::emulator_on_free_port())
        .await
        .expect("the emulator starts on a free port");
    (app(emulator.client(), Some(emulator.clone())), emulator)
}

async fn start_emulator(builder: EmulatorBuilder) -> std::io::Result<EmulatorHandle> {
    let rule = Rule::new("large-payment", Outcome::ChallengeRequired)
        .when(Condition::custom_above("amount", THRESHOLD));
    let emulator =
        demo::start_emulator(builder.action(ACTION, ActionConfig::allow().rule(rule))).await?;
    emulator.enroll_totp(DEMO_USER);
    Ok(emulator)
}

/// The API: `POST /payments` behind the gate, `GET /payments` to list them.
pub fn app(client: Authsignal, emulator: Option<EmulatorHandle>) -> Router {
    let payments = Payments::default();
    let gate = StepUpLayer::new(client, ACTION)
        .client_kind(ClientKind::Api)
        .custom_from_body(["amount", "currency"])
        .user_id(|parts| user_of(&parts.headers));
    let router = Router::new().route(
        "/payments",
        get(list)
            .post(pay)
            .layer(gate.methods([axum::http::Method::POST])),
    );
    demo::code_page(router, emulator, DEMO_USER).with_state(payments)
}

/// The API key's user: the app's own authentication, which the gate builds on.
fn user_of(headers: &HeaderMap) -> Option<String> {
    let key = headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")?;
    (key == DEMO_API_KEY).then(|| DEMO_USER.to_owned())
}

#[derive(Clone, Default)]
struct Payments(Arc<Mutex<Vec<Value>>>);

#[derive(Deserialize)]
struct Payment {
    amount: f64,
    payee: String,
    #[serde(default = "default_currency")]
    currency: String,
}

fn default_currency() -> String {
    "USD".to_owned()
}

async fn pay(
    State(payments): State<Payments>,
    step_up: StepUp,
    Json(payment): Json<Payment>,
) -> Response {
    if !(payment.amount.is_finite() && payment.amount > 0.0) {
        let error = json!({ "error": "invalid_amount", "message": "amount must be positive" });
        return (StatusCode::UNPROCESSABLE_ENTITY, Json(error)).into_response();
    }
    let mut list = payments.0.lock().unwrap();
    let record = json!({
        "id": list.len() + 1,
        "amount": payment.amount,
        "currency": payment.currency,
        "payee": payment.payee,
        "status": "sent",
        "steppedUp": step_up.was_challenged(),
        "verificationMethod": step_up.verification_method().map(|m| m.to_string()),
    });
    list.push(record.clone());
    (StatusCode::CREATED, Json(record)).into_response()
}

async fn list(State(payments): State<Payments>, headers: HeaderMap) -> Response {
    if user_of(&headers).is_none() {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    Json(payments.0.lock().unwrap().clone()).into_response()
}
