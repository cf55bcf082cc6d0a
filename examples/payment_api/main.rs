//! A JSON payments API behind Authsignal step-up, for API clients with their own UI.
//!
//! ```sh
//! cargo run --example payment_api
//! ```
//!
//! A payment above 100 answers 401 with a challenge token. The client's own UI completes
//! the challenge through Authsignal's client API (here: the authenticator-app code,
//! `POST /v1/client/verify/totp` with the token as Bearer) and sends the payment again
//! with the new token in `X-Authsignal-Token`. A payment above 10 000 goes to a manual
//! review: the gate holds it and answers 202; once a reviewer approves it (the Portal, or
//! the back office with `updateAction` to `REVIEW_SUCCEEDED`), the client sends it again
//! with its idempotency key in `X-Authsignal-Review` and it is paid, once. The README
//! walks through both with curl.
//!
//! Without `AUTHSIGNAL_SECRET_KEY` the embedded emulator serves Authsignal on
//! <http://127.0.0.1:8787/v1> (`EMULATOR_PORT` overrides) and `GET /demo/code` gives the
//! demo user's current code.

#[path = "../common/demo.rs"]
mod demo;

use std::error::Error;
use std::sync::{Arc, Mutex};

use authsignal_emulator::{
    ActionConfig, Condition, EmulatorBuilder, EmulatorHandle, Outcome, Rule,
};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use axum_authsignal::Authsignal;
use axum_authsignal::store::PendingChallengeStore;
use axum_authsignal::{ClientKind, StepUp, StepUpConfig};
use metrics_exporter_prometheus::PrometheusBuilder;
use serde::Deserialize;
use serde_json::{Value, json};

/// The demo's API key; it belongs to [`DEMO_USER`].
pub const DEMO_API_KEY: &str = "demo-api-key";
/// The user behind the demo API key.
pub const DEMO_USER: &str = "demo";
/// A second demo API key, of another user, [`OTHER_USER`]: their tokens are not the
/// demo user's.
pub const OTHER_API_KEY: &str = "other-api-key";
/// The user behind the second API key.
pub const OTHER_USER: &str = "other";
/// The API keys and their users: the app's own authentication, which the gate builds on.
const API_KEYS: [(&str, &str); 2] = [(DEMO_API_KEY, DEMO_USER), (OTHER_API_KEY, OTHER_USER)];
/// Payments above this amount are challenged.
pub const THRESHOLD: f64 = 100.0;
/// Payments above this amount go to a manual review, held until a reviewer decides.
pub const REVIEW_THRESHOLD: f64 = 10_000.0;
const ACTION: &str = "payment";

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::INFO)
        .init();
    let listener = demo::listen(3000).await?;
    let origin = format!("http://127.0.0.1:{}", listener.local_addr()?.port());
    let (store, store_line) = demo::challenge_store().await?;
    println!("\naxum-authsignal payment API demo\n");
    println!("  API       {origin}/payments  (Authorization: Bearer {DEMO_API_KEY})");
    println!("            a second user's key: Bearer {OTHER_API_KEY}");
    println!("  step-up   payments above {THRESHOLD} answer 401 with a challenge token");
    println!(
        "  review    payments above {REVIEW_THRESHOLD} are held (202) until a reviewer approves"
    );
    let app = if demo::uses_authsignal() {
        println!("  backend   Authsignal, with the key in AUTHSIGNAL_SECRET_KEY");
        app(Authsignal::from_env()?, None, store)
    } else {
        let emulator = start_emulator(demo::emulator()).await?;
        println!(
            "  backend   the embedded Authsignal emulator at {}",
            emulator.api_url()
        );
        println!("  code      GET {origin}/demo/code gives the demo user's current code");
        app(emulator.client(), Some(emulator), store)
    };
    // Prometheus can scrape the gate's counters at /metrics (feature `metrics`).
    let metrics = PrometheusBuilder::new().install_recorder()?;
    println!("  metrics   GET {origin}/metrics");
    println!("  store     {store_line}");
    println!();
    let app = app.route(
        "/metrics",
        get(move || std::future::ready(metrics.render())),
    );
    demo::serve(listener, app).await?;
    Ok(())
}

/// The API on a fresh emulator (on a free port), for tests.
pub async fn with_emulator() -> (Router, EmulatorHandle) {
    let emulator = start_emulator(demo::emulator_on_free_port())
        .await
        .expect("the emulator starts on a free port");
    (
        app(
            emulator.client(),
            Some(emulator.clone()),
            demo::memory_store(),
        ),
        emulator,
    )
}

async fn start_emulator(builder: EmulatorBuilder) -> std::io::Result<EmulatorHandle> {
    // The first rule that holds decides: the review's threshold comes first.
    let review = Rule::new("very-large-payment", Outcome::ReviewRequired)
        .when(Condition::custom_above("amount", REVIEW_THRESHOLD));
    let challenge = Rule::new("large-payment", Outcome::ChallengeRequired)
        .when(Condition::custom_above("amount", THRESHOLD));
    let rules = ActionConfig::allow().rule(review).rule(challenge);
    let emulator = demo::start_emulator(builder.action(ACTION, rules)).await?;
    for (_, user) in API_KEYS {
        emulator.enroll_totp(user);
    }
    Ok(emulator)
}

/// The API: `POST /payments` behind the gate, `GET /payments` to list them.
pub fn app(
    client: Authsignal,
    emulator: Option<EmulatorHandle>,
    store: Arc<dyn PendingChallengeStore>,
) -> Router {
    let payments = Payments::default();
    let step_up = StepUpConfig::builder(client)
        .store(store)
        .client_kind(ClientKind::Api)
        .user_id(|parts| user_of(&parts.headers))
        .build();
    let gate = step_up
        .gate(ACTION)
        .custom_from_body(["amount", "currency"])
        .methods([axum::http::Method::POST])
        .hold_reviews();
    let router = Router::new().route("/payments", get(list).post(pay).layer(gate));
    demo::code_page(router, emulator, DEMO_USER).with_state(payments)
}

/// The API key's user: the app's own authentication, which the gate builds on.
fn user_of(headers: &HeaderMap) -> Option<String> {
    let key = headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")?;
    API_KEYS
        .iter()
        .find(|(known, _)| *known == key)
        .map(|(_, user)| (*user).to_owned())
}

#[derive(Clone, Default)]
struct Payments(Arc<Mutex<Vec<Value>>>);

/// The payment's fields, but its amount: the handler books the amount Authsignal's rules
/// judged ([`StepUp::judged_number`]), never a parse of its own that could differ.
#[derive(Deserialize)]
struct Payment {
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
    let Some(amount) = step_up
        .judged_number("amount")
        .filter(|amount| amount.is_finite() && *amount > 0.0)
    else {
        let error = json!({ "error": "invalid_amount", "message": "amount must be positive" });
        return (StatusCode::UNPROCESSABLE_ENTITY, Json(error)).into_response();
    };
    let mut list = payments.0.lock().unwrap();
    let record = json!({
        "id": list.len() + 1,
        "user": step_up.user_id(),
        "amount": amount,
        "currency": payment.currency,
        "payee": payment.payee,
        "status": "sent",
        "steppedUp": step_up.was_challenged(),
        "reviewed": step_up.was_reviewed(),
        "verificationMethod": step_up.verification_method().map(|m| m.to_string()),
    });
    list.push(record.clone());
    (StatusCode::CREATED, Json(record)).into_response()
}

/// The caller's own payments.
async fn list(State(payments): State<Payments>, headers: HeaderMap) -> Response {
    let Some(user) = user_of(&headers) else {
        return StatusCode::UNAUTHORIZED.into_response();
    };
    let own: Vec<Value> = payments
        .0
        .lock()
        .unwrap()
        .iter()
        .filter(|payment| payment["user"] == user.as_str())
        .cloned()
        .collect();
    Json(own).into_response()
}
