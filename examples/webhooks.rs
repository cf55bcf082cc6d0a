//! Receiving Authsignal webhooks: a route that takes only authentic events, with
//! `VerifiedWebhook`.
//!
//! ```sh
//! cargo run --example webhooks
//! ```
//!
//! Without `AUTHSIGNAL_SECRET_KEY` the embedded emulator sends its webhook events to this
//! app's `/webhooks/authsignal`, signed with its secret, and the demo makes some happen:
//! it enrolls the demo user's phone, sends them an SMS code and verifies it. Each event is
//! printed as it arrives, and `GET /events` lists them. With `AUTHSIGNAL_SECRET_KEY` set,
//! point the tenant's webhook settings at `<your public URL>/webhooks/authsignal`.
//!
//! A signature says who sent a request, not that it is new: within the 5-minute tolerance a
//! captured request verifies again, and Authsignal sends an event again when a delivery
//! fails. The route handles each event id once, with a `ReplayGuard`, and answers repeats
//! 200 without handling them.

#[path = "common/demo.rs"]
mod demo;

use std::error::Error;
use std::sync::{Arc, Mutex};

use authsignal_emulator::{ActionConfig, EmulatorHandle, WebhookEndpoint, WebhookSettings};
use axum::Router;
use axum::extract::{FromRef, State};
use axum::routing::{get, post};
use axum_authsignal::authsignal::ENV_SECRET_KEY;
use axum_authsignal::authsignal::types::{
    ChallengeRequest, EnrollVerifiedAuthenticatorRequest, TrackAttributes, VerificationMethod,
    VerifyRequest,
};
use axum_authsignal::webhook::{ReplayGuard, VerifiedWebhook, WebhookPayload, WebhookVerifier};

/// The demo user, and the phone their codes go to.
pub const DEMO_USER: &str = "demo";
/// The demo user's phone number.
pub const DEMO_PHONE: &str = "+64270000067";
/// Where the app takes webhooks.
pub const WEBHOOK_PATH: &str = "/webhooks/authsignal";

/// The app's state: the verifier (the tenant secret), the event ids handled, and what was
/// received.
#[derive(Clone)]
pub struct AppState {
    verifier: WebhookVerifier,
    /// The event ids handled, each kept while a request carrying it still verifies.
    replays: ReplayGuard,
    /// One line per event handled, oldest first: `<type> <id>`.
    pub received: Arc<Mutex<Vec<String>>>,
}

impl FromRef<AppState> for WebhookVerifier {
    fn from_ref(state: &AppState) -> Self {
        state.verifier.clone()
    }
}

/// Runs only for authentic requests: a bad or missing signature, a stale timestamp or an
/// oversized body is answered 4xx by the extractor, and this never sees it. An event already
/// handled (a replayed request, a delivery Authsignal retries) is answered 200 and skipped.
async fn on_webhook(State(state): State<AppState>, webhook: VerifiedWebhook) {
    let events: Vec<(String, String)> = match webhook.payload {
        WebhookPayload::Event(event) => {
            // What an app does with them: an SMS to send itself (sms.created carries the
            // code), a "new authenticator on your account" notice, a CRM update.
            vec![(event.event_type, event.id)]
        }
        WebhookPayload::LogEventBatch(batch) => batch
            .records
            .into_iter()
            .map(|record| (record.event_type, record.id))
            .collect(),
        _ => Vec::new(),
    };
    for (event_type, id) in events {
        if !state.replays.first_delivery(&id, webhook.signed_at) {
            println!("  webhook   {event_type} {id} again: already handled, skipped");
            continue;
        }
        let line = format!("{event_type} {id}");
        println!("  webhook   {line}");
        state.received.lock().unwrap().push(line);
    }
}

/// `GET /events`: what was received, one line each.
async fn events(State(state): State<AppState>) -> String {
    state
        .received
        .lock()
        .unwrap()
        .iter()
        .map(|line| format!("{line}\n"))
        .collect()
}

/// The app: the webhook route and the list of what it received.
pub fn app(secret: &str) -> (Router, AppState) {
    let verifier = WebhookVerifier::new(secret);
    let state = AppState {
        replays: verifier.replay_guard(),
        verifier,
        received: Arc::default(),
    };
    let router = Router::new()
        .route(WEBHOOK_PATH, post(on_webhook))
        .route("/events", get(events))
        .with_state(state.clone());
    (router, state)
}

/// An emulator that sends every event to `origin`'s webhook route.
pub async fn emulator_for(origin: &str, free_port: bool) -> std::io::Result<EmulatorHandle> {
    let settings = WebhookSettings::default()
        .endpoint(WebhookEndpoint::new(format!("{origin}{WEBHOOK_PATH}")))
        .retries(3, std::time::Duration::from_millis(200));
    let builder = if free_port {
        demo::emulator_on_free_port()
    } else {
        demo::emulator()
    };
    let builder = builder
        .action("withdraw", ActionConfig::challenge())
        .webhooks(settings);
    if free_port {
        builder.start().await
    } else {
        demo::start_emulator(builder).await
    }
}

/// Makes events happen: the demo user's phone enrolled, an SMS code sent and verified.
pub async fn make_events(
    emulator: &EmulatorHandle,
) -> Result<(), axum_authsignal::authsignal::Error> {
    let client = emulator.client();
    client
        .enroll_verified_authenticator(
            DEMO_USER,
            &EnrollVerifiedAuthenticatorRequest {
                phone_number: Some(DEMO_PHONE.into()),
                ..EnrollVerifiedAuthenticatorRequest::new(VerificationMethod::Sms)
            },
        )
        .await?;
    let tracked = client
        .track(DEMO_USER, "withdraw", TrackAttributes::default())
        .await?;
    let sent = client
        .challenge(&ChallengeRequest {
            verification_method: Some(VerificationMethod::Sms),
            user_id: Some(DEMO_USER.into()),
            action: Some("withdraw".into()),
            idempotency_key: Some(tracked.idempotency_key),
            ..ChallengeRequest::default()
        })
        .await?;
    // The code the user would read on their phone.
    let code = emulator.last_code_sent_to(DEMO_PHONE).unwrap_or_default();
    client
        .verify(&VerifyRequest {
            challenge_id: sent.challenge_id,
            verification_code: code,
        })
        .await?;
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let listener = demo::listen(3000).await?;
    let origin = format!("http://127.0.0.1:{}", listener.local_addr()?.port());
    println!("\naxum-authsignal webhooks demo\n");
    println!("  webhooks  {origin}{WEBHOOK_PATH}");
    println!("  received  GET {origin}/events");
    if demo::uses_authsignal() {
        let secret = std::env::var(ENV_SECRET_KEY)?;
        let (router, _) = app(&secret);
        println!(
            "  backend   Authsignal: point the tenant's webhook URL here (publicly reachable)"
        );
        println!();
        demo::serve(listener, router).await?;
        return Ok(());
    }
    let emulator = emulator_for(&origin, false).await?;
    let (router, _) = app(emulator.secret());
    println!(
        "  backend   the embedded Authsignal emulator at {}",
        emulator.api_url()
    );
    println!();
    let server = tokio::spawn(demo::serve(listener, router));
    make_events(&emulator).await?;
    emulator.webhooks_idle().await;
    println!("\n  (track, challenge and enroll on the emulator for more; Ctrl-C to stop)");
    server.await??;
    Ok(())
}
