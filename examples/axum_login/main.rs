//! The step-up gate in an app that signs users in with axum-login and tower-sessions.
//!
//! ```sh
//! cargo run --example axum_login
//! ```
//!
//! Open <http://127.0.0.1:3000> (`PORT` overrides), sign in as `demo` / `demo` (or
//! `other` / `other`), and withdraw more than 1000: Authsignal's pre-built UI asks for the
//! code of an authenticator app, then the withdrawal completes without submitting the form
//! again. On the embedded emulator, `GET /demo/code` shows the signed-in user's current
//! code. With `AUTHSIGNAL_SECRET_KEY` (and `AUTHSIGNAL_API_URL` for another region) it
//! uses your Authsignal tenant, which needs a `withdraw` action with a rule that
//! challenges large amounts (`custom.amount`).
//!
//! # How the gate finds the user
//!
//! axum-login's `AuthManagerLayer` wraps the whole router. For each request it loads the
//! tower-sessions session, asks the [`Backend`] for the user it names
//! ([`AuthnBackend::get_user`]), and puts an `AuthSession<Backend>` into the request
//! extensions. The gate sits inside that layer (on the route), and the configuration tells
//! it to take the user from that extractor:
//!
//! ```text
//! .user_from(|session: AuthSession| session.user.map(|user| user.id.to_string()))
//! ```
//!
//! `AuthSession` is extracted as a handler would extract it (async, from the request's
//! parts, with no state), then the closure names the Authsignal user id: here the
//! backend's numeric id, as the app's own database would have it. Signed out (no user),
//! or with no `AuthManagerLayer` around the gate (the extractor refuses), the gate answers
//! 401 and tracks nothing: it fails closed.
//!
//! The pre-built UI sends the browser back with a cross-site top-level `GET`, so the
//! session cookie is `SameSite=Lax`: tower-sessions' default, `Strict`, would leave the
//! browser signed out on its way back, and the gate would answer 401.

#[path = "../common/demo.rs"]
mod demo;
#[path = "../common/withdrawals.rs"]
mod withdrawals;

use std::convert::Infallible;
use std::error::Error;
use std::fmt;
use std::sync::Arc;

use authsignal_emulator::{EmulatorBuilder, EmulatorHandle, TotpEnrollment};
use axum::extract::{Path, State};
use axum::http::{Method, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Extension, Form, Router};
use axum_authsignal::Authsignal;
use axum_authsignal::store::PendingChallengeStore;
use axum_authsignal::{Action, StepUp, StepUpConfig};
use axum_login::{AuthManagerLayerBuilder, AuthUser, AuthnBackend};
use demo::page;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use tower_sessions::cookie::SameSite;
use tower_sessions::{MemoryStore, SessionManagerLayer};
use withdrawals::Ledger;
pub use withdrawals::{THRESHOLD, Withdraw};

/// The demo's first user.
pub const DEMO_USER: &str = "demo";
/// Their password.
pub const DEMO_PASSWORD: &str = "demo";
/// A second user, with an authenticator of their own.
pub const OTHER_USER: &str = "other";
/// Their password.
pub const OTHER_PASSWORD: &str = "other";
/// The app's sign-in session: axum-login's, over [`Backend`].
pub type AuthSession = axum_login::AuthSession<Backend>;

/// A user of the app, as its database would hold them.
#[derive(Clone)]
pub struct User {
    /// The app's id for the user, and (as a string) their Authsignal user id.
    pub id: u64,
    /// What they sign in with.
    pub username: &'static str,
    /// SHA-256 keeps the demo free of another dependency; a real app stores a slow,
    /// salted hash (argon2, e.g. with the `password-auth` crate).
    password_digest: [u8; 32],
}

impl User {
    fn new(id: u64, username: &'static str, password: &str) -> Self {
        Self {
            id,
            username,
            password_digest: Sha256::digest(password).into(),
        }
    }
}

// By hand: the password's digest stays out of logs.
impl fmt::Debug for User {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("User")
            .field("id", &self.id)
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

impl AuthUser for User {
    type Id = u64;

    fn id(&self) -> u64 {
        self.id
    }

    /// A new password signs the user out of every session.
    fn session_auth_hash(&self) -> &[u8] {
        &self.password_digest
    }
}

/// The sign-in form.
#[derive(Deserialize)]
pub struct Credentials {
    username: String,
    password: String,
}

/// axum-login's backend over an in-memory list of users.
#[derive(Clone)]
pub struct Backend {
    users: Arc<[User]>,
}

impl Backend {
    /// The demo's two users.
    pub fn demo() -> Self {
        Self {
            users: Arc::new([
                User::new(1, DEMO_USER, DEMO_PASSWORD),
                User::new(2, OTHER_USER, OTHER_PASSWORD),
            ]),
        }
    }

    fn by_name(&self, username: &str) -> Option<&User> {
        self.users.iter().find(|user| user.username == username)
    }
}

impl AuthnBackend for Backend {
    type User = User;
    type Credentials = Credentials;
    type Error = Infallible;

    async fn authenticate(&self, credentials: Credentials) -> Result<Option<User>, Infallible> {
        // Digests are compared, not passwords: how long it takes says nothing about the
        // password.
        let digest: [u8; 32] = Sha256::digest(&credentials.password).into();
        Ok(self
            .by_name(&credentials.username)
            .filter(|user| user.password_digest == digest)
            .cloned())
    }

    async fn get_user(&self, id: &u64) -> Result<Option<User>, Infallible> {
        Ok(self.users.iter().find(|user| user.id == *id).cloned())
    }
}

/// The Authsignal user id of the signed-in user, if any: what the gate asks for.
fn authsignal_user(session: AuthSession) -> Option<String> {
    session.user.map(|user| user.id.to_string())
}

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
        let (emulator, enrollments) = start_emulator(demo::emulator()).await?;
        let app = app(emulator.client(), &origin, Some(emulator.clone()), store);
        (app, Some((emulator, enrollments)))
    };

    println!("\naxum-authsignal with axum-login\n");
    println!(
        "  open      {origin}  (sign in as {DEMO_USER} / {DEMO_PASSWORD} or {OTHER_USER} / {OTHER_PASSWORD})"
    );
    println!("  step-up   withdrawals above {THRESHOLD} ask for an authenticator-app code");
    match &emulator {
        Some((emulator, enrollments)) => {
            println!(
                "  backend   the embedded Authsignal emulator at {}",
                emulator.api_url()
            );
            println!("            (set AUTHSIGNAL_SECRET_KEY to use your Authsignal tenant)");
            for (username, enrollment) in enrollments {
                println!("  {username}:\n{}", demo::enrollment_banner(enrollment));
            }
            println!("  or read the signed-in user's current code at {origin}/demo/code");
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

/// The emulator with the demo's rule (challenge above the threshold) and every user
/// enrolled in an authenticator app, with their enrolments by username.
async fn start_emulator(
    builder: EmulatorBuilder,
) -> std::io::Result<(EmulatorHandle, Vec<(&'static str, TotpEnrollment)>)> {
    let emulator =
        demo::start_emulator(builder.action(Withdraw::CODE, withdrawals::action_config())).await?;
    let enrollments = Backend::demo()
        .users
        .iter()
        .map(|user| (user.username, emulator.enroll_totp(&user.id.to_string())))
        .collect();
    Ok((emulator, enrollments))
}

/// The app: sign-in through axum-login, the withdrawal form, and `POST /withdraw` behind
/// the step-up gate. `origin` is where the app is reached: the pre-built UI sends the
/// browser back there.
pub fn app(
    client: Authsignal,
    origin: &str,
    emulator: Option<EmulatorHandle>,
    store: Arc<dyn PendingChallengeStore>,
) -> Router {
    // Set once for the whole app: for each gated request `AuthSession` is extracted and
    // `authsignal_user` names its user, whoever axum-login says is signed in.
    let step_up = StepUpConfig::builder(client)
        .store(store)
        .redirect_origin(origin)
        .user_from(authsignal_user)
        .build();
    let gate = step_up
        .gate(Withdraw)
        .custom_from_body(["amount"])
        // The form page (GET) is not the action; only the POST is tracked.
        .methods([Method::POST]);

    let sessions = SessionManagerLayer::new(MemoryStore::default())
        // Lax: the pre-built UI's way back is a cross-site navigation (see the module docs).
        .with_same_site(SameSite::Lax)
        // The demo is served over plain http on 127.0.0.1; a real app keeps `Secure`.
        .with_secure(false);
    let auth = AuthManagerLayerBuilder::new(Backend::demo(), sessions).build();

    let mut router = Router::new()
        .route("/", get(sign_in_page))
        .route("/login", post(login))
        .route("/logout", post(logout).layer(Extension(step_up.clone())))
        .route("/withdraw", get(withdraw_page).post(withdraw).layer(gate))
        .route("/withdrawals", get(past_withdrawals))
        .route("/withdrawals/{id}", get(confirmation));
    if let Some(emulator) = emulator {
        router = router.route(
            "/demo/code",
            get(move |session: AuthSession| async move {
                match authsignal_user(session) {
                    Some(user) => emulator
                        .totp_code(&user)
                        .unwrap_or_default()
                        .into_response(),
                    None => StatusCode::UNAUTHORIZED.into_response(),
                }
            }),
        );
    }
    router
        .with_state(Ledger::default())
        // Outermost, so that the gate (on its route, inside) finds the `AuthSession`.
        .layer(auth)
}

async fn sign_in_page() -> Html<String> {
    withdrawals::sign_in_page(
        DEMO_USER,
        &format!(
            "The demo users are <code>{DEMO_USER}</code> / <code>{DEMO_PASSWORD}</code> \
             and <code>{OTHER_USER}</code> / <code>{OTHER_PASSWORD}</code>."
        ),
    )
}

/// The password is checked by the backend (`AuthnBackend::authenticate`); `login` then
/// gives the browser a fresh session id that names the user.
async fn login(mut session: AuthSession, Form(credentials): Form<Credentials>) -> Response {
    let user = match session.authenticate(credentials).await {
        Ok(Some(user)) => user,
        Ok(None) => return withdrawals::wrong_password(),
        Err(err) => return session_failed(&err),
    };
    match session.login(&user).await {
        Ok(()) => Redirect::to("/withdraw").into_response(),
        Err(err) => session_failed(&err),
    }
}

/// Signing out also ends a step-up the browser has not finished resuming.
async fn logout(mut session: AuthSession, Extension(step_up): Extension<StepUpConfig>) -> Response {
    match session.logout().await {
        Ok(_) => (step_up.clear_resume_cookies(), Redirect::to("/")).into_response(),
        Err(err) => session_failed(&err),
    }
}

/// The session store failed: a small page, the details in the log.
fn session_failed(err: &dyn Error) -> Response {
    tracing::error!(error = %err, "session store");
    let body = page(
        "Try again",
        "<p id=\"error\">Your session could not be saved.</p><a href=\"/\">Back</a>",
    );
    (StatusCode::SERVICE_UNAVAILABLE, body).into_response()
}

async fn withdraw_page(session: AuthSession) -> Response {
    let Some(user) = session.user else {
        return Redirect::to("/").into_response();
    };
    let sign_out =
        "<form method=\"post\" action=\"/logout\"><button type=\"submit\">Sign out</button></form>";
    withdrawals::form_page(user.username, sign_out).into_response()
}

/// Runs only once the gate let the request through: after `ALLOW`, or after the user
/// completed the challenge for this very request. `StepUp<Withdraw>` carries the user the
/// gate checked, the one axum-login had signed in.
async fn withdraw(State(ledger): State<Ledger>, step_up: StepUp<Withdraw>) -> Response {
    ledger.withdraw(&step_up)
}

/// The confirmation of one withdrawal, for its own user only.
async fn confirmation(
    State(ledger): State<Ledger>,
    session: AuthSession,
    Path(id): Path<usize>,
) -> Response {
    match authsignal_user(session) {
        Some(user) => ledger.confirmation(&user, id),
        None => Redirect::to("/").into_response(),
    }
}

/// The signed-in user's past withdrawals.
async fn past_withdrawals(State(ledger): State<Ledger>, session: AuthSession) -> Response {
    match authsignal_user(session) {
        Some(user) => ledger.list(&user),
        None => Redirect::to("/").into_response(),
    }
}
