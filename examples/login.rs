//! Password sign-in with an Authsignal step-up on `signIn`.
//!
//! ```sh
//! cargo run --example login
//! ```
//!
//! Open <http://localhost:3000> (`PORT` overrides) and sign in as `demo` / `demo`. After
//! the password check the app asks Authsignal about `signIn`; the pre-built UI asks for
//! the authenticator-app code and sends the browser back to `/login/callback`, which
//! takes the user from Authsignal's answer and accepts it only in the browser that
//! started (a `__Host-` cookie bound by HMAC, so an attacker's completed sign-in cannot
//! be planted on someone else). Use `localhost`: browsers keep the `Secure` binding cookie
//! on `http://localhost`.

#[path = "common/demo.rs"]
mod demo;

use std::error::Error;
use std::sync::Arc;

use authsignal_emulator::{ActionConfig, EmulatorBuilder, EmulatorHandle, TotpEnrollment};
use axum::extract::{FromRef, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Form, Router};
use axum_authsignal::Authsignal;
use axum_authsignal::store::PendingChallengeStore;
use axum_authsignal::{SignIn, SignedIn, StepUpConfig};
use demo::{Sessions, escape, page};
use serde::Deserialize;

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
    let origin = format!("http://localhost:{}", listener.local_addr()?.port());
    let (store, store_line) = demo::challenge_store().await?;
    println!("\naxum-authsignal login demo\n");
    println!("  open      {origin}  (sign in as {DEMO_USER} / {DEMO_PASSWORD})");
    let app = if demo::uses_authsignal() {
        println!("  backend   Authsignal, with the key in AUTHSIGNAL_SECRET_KEY");
        println!("            (the tenant's `signIn` action decides when to challenge)");
        app(Authsignal::from_env()?, &origin, None, store)
    } else {
        let (emulator, enrollment) = start_emulator(demo::emulator()).await?;
        println!(
            "  backend   the embedded Authsignal emulator at {}",
            emulator.api_url()
        );
        println!("{}", demo::enrollment_banner(&enrollment));
        println!("  or read the current code at {origin}/demo/code");
        app(emulator.client(), &origin, Some(emulator), store)
    };
    println!("  store     {store_line}");
    println!();
    demo::serve(listener, app).await?;
    Ok(())
}

/// The app on a fresh emulator (on a free port), for tests.
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

/// Every sign-in is challenged, and the demo user has an authenticator app.
async fn start_emulator(
    builder: EmulatorBuilder,
) -> std::io::Result<(EmulatorHandle, TotpEnrollment)> {
    let emulator =
        demo::start_emulator(builder.action("signIn", ActionConfig::challenge())).await?;
    let enrollment = emulator.enroll_totp(DEMO_USER);
    Ok((emulator, enrollment))
}

#[derive(Clone)]
struct AppState {
    sign_in: SignIn,
    sessions: Sessions,
}

impl FromRef<AppState> for SignIn {
    fn from_ref(state: &AppState) -> SignIn {
        state.sign_in.clone()
    }
}

/// The app: `/` (who is signed in), the password form, and the step-up callback.
pub fn app(
    client: Authsignal,
    origin: &str,
    emulator: Option<EmulatorHandle>,
    store: Arc<dyn PendingChallengeStore>,
) -> Router {
    let mut sign_in = StepUpConfig::builder(client)
        .store(store)
        .build()
        .sign_in(format!("{origin}/login/callback"));
    // Several instances must check each other's binding cookies: one key for all of them.
    if let Ok(key) = std::env::var("SIGN_IN_COOKIE_KEY") {
        sign_in = sign_in.cookie_key(key);
    }
    let state = AppState {
        sign_in: sign_in
            .build()
            .expect("SIGN_IN_COOKIE_KEY must be at least 32 bytes"),
        sessions: Sessions::default(),
    };
    let router = Router::new()
        .route("/", get(home))
        .route("/login", get(login_page).post(login))
        .route("/login/callback", get(callback));
    demo::code_page(router, emulator, DEMO_USER).with_state(state)
}

#[derive(Deserialize)]
struct Credentials {
    username: String,
    password: String,
}

async fn home(State(state): State<AppState>, headers: HeaderMap) -> Response {
    match state.sessions.user(&headers) {
        Some(user) => page(
            "Welcome",
            &format!(
                "<p id=\"signed-in\">Signed in as <b>{}</b>.</p>",
                escape(&user)
            ),
        )
        .into_response(),
        None => Redirect::to("/login").into_response(),
    }
}

async fn login_page() -> impl IntoResponse {
    page(
        "Sign in",
        "<form method=\"post\" action=\"/login\">\
         <label>Username <input id=\"username\" name=\"username\"></label>\
         <label>Password <input id=\"password\" name=\"password\" type=\"password\"></label>\
         <button id=\"sign-in\" type=\"submit\">Sign in</button></form>",
    )
}

/// The password check, then the step-up decision.
async fn login(
    State(state): State<AppState>,
    request: Parts,
    Form(form): Form<Credentials>,
) -> Response {
    if form.username != DEMO_USER || form.password != DEMO_PASSWORD {
        let body = page("Sign in", "<p id=\"error\">Wrong username or password.</p>");
        return (StatusCode::UNAUTHORIZED, body).into_response();
    }
    match state.sign_in.start(&form.username, &request).await {
        // Authsignal let the sign-in through without a challenge.
        Ok(proof) => signed_in(&state, proof.user_id(), None),
        // A challenge (redirect to the pre-built UI, with the binding cookie) or a refusal.
        Err(challenge_or_refusal) => challenge_or_refusal,
    }
}

/// Back from the pre-built UI: the user is the one Authsignal validated.
async fn callback(State(state): State<AppState>, proof: SignedIn) -> Response {
    signed_in(&state, proof.user_id(), Some(proof.clear_cookie()))
}

fn signed_in(
    state: &AppState,
    user: &str,
    clear_binding: Option<(header::HeaderName, header::HeaderValue)>,
) -> Response {
    let session = state.sessions.start(user);
    let mut response = ([(header::SET_COOKIE, session)], Redirect::to("/")).into_response();
    if let Some((name, value)) = clear_binding {
        response.headers_mut().append(name, value);
    }
    response
}
