//! The harness every gate test shares: an emulator, an app with gated routes served over
//! real HTTP, a count of handler runs, and a capture of every log line of the suite.

use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::response::IntoResponse;
use axum::routing::post;
use axum_authsignal::emulator::{ActionConfig, Condition, Emulator, EmulatorHandle, Outcome, Rule};
use axum_authsignal::step_up::{StepUp, StepUpLayer};
use axum_authsignal::{Authsignal, RetryPolicy};
use axum_test::TestServer;
use bytes::Bytes;
use http::request::Parts;
use serde_json::{Value, json};

/// The tenant secret of every emulator in the suite; no log line may ever contain it.
pub const SECRET: &str = "gate-suite-secret-7d1f0c9a";
/// Amounts above this are challenged.
pub const THRESHOLD: f64 = 1000.0;
/// The header the tests' stand-in for an auth layer reads the user from.
pub const USER_HEADER: &str = "x-test-user";

/// Every log line written while the suite runs, at TRACE, spans included.
pub fn logs() -> &'static Arc<Mutex<Vec<u8>>> {
    static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        let buffer = Arc::new(Mutex::new(Vec::new()));
        let writer = buffer.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_span_events(tracing_subscriber::fmt::format::FmtSpan::CLOSE)
            .with_ansi(false)
            .with_writer(move || Capture(writer.clone()))
            .finish();
        tracing::subscriber::set_global_default(subscriber).expect("one subscriber per suite");
        buffer
    })
}

struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

pub fn log_text() -> String {
    String::from_utf8_lossy(&logs().lock().unwrap()).into_owned()
}

/// Every token any test of the suite has handled so far.
fn seen_tokens() -> &'static Mutex<Vec<String>> {
    static SEEN: OnceLock<Mutex<Vec<String>>> = OnceLock::new();
    SEEN.get_or_init(Mutex::default)
}

/// Notes a token the suite handled, so that every later log check looks for it too.
pub fn remember(token: &str) -> String {
    seen_tokens().lock().unwrap().push(token.to_owned());
    token.to_owned()
}

/// Fails if the captured logs hold the tenant secret, any of `tokens`, or any token a
/// test of the suite handled so far: tests run concurrently, so each check covers the
/// others' tokens as well as its own.
pub fn assert_logs_clean(tokens: &[&str]) {
    let text = log_text();
    assert!(!text.contains(SECRET), "the secret reached the logs");
    let seen = seen_tokens().lock().unwrap().clone();
    for token in tokens
        .iter()
        .copied()
        .chain(seen.iter().map(String::as_str))
    {
        assert!(token.len() > 20, "not a token: {token:?}");
        assert!(!text.contains(token), "a token reached the logs");
    }
}

/// A running emulator and app.
pub struct Gate {
    pub emulator: EmulatorHandle,
    pub server: TestServer,
    pub origin: String,
    pub runs: Arc<AtomicUsize>,
    pub http: reqwest::Client,
    pub client: Authsignal,
}

impl Gate {
    pub fn runs(&self) -> usize {
        self.runs.load(Ordering::SeqCst)
    }
}

pub fn user_from_header(parts: &Parts) -> Option<String> {
    parts
        .headers
        .get(USER_HEADER)
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned)
}

/// `withdraw`: challenged above the threshold. `changePayee`: always challenged.
pub async fn emulator() -> EmulatorHandle {
    logs();
    let emulator = Emulator::builder()
        .secret(SECRET)
        .action(
            "withdraw",
            ActionConfig::allow().rule(
                Rule::new("large-withdrawal", Outcome::ChallengeRequired)
                    .when(Condition::custom_above("amount", THRESHOLD)),
            ),
        )
        .action("changePayee", ActionConfig::challenge())
        .action("signIn", ActionConfig::challenge())
        .start()
        .await
        .expect("the emulator starts");
    for user in ["alice", "bob", "mallory"] {
        emulator.enroll_totp(user);
    }
    emulator
}

/// A client with tight time bounds, so that fault tests finish quickly.
pub fn client(emulator: &EmulatorHandle) -> Authsignal {
    emulator
        .client_builder()
        .attempt_timeout(Duration::from_millis(400))
        .deadline(Duration::from_millis(1500))
        .retry_policy(
            RetryPolicy::default().backoff(Duration::from_millis(5), Duration::from_millis(20)),
        )
        .build()
        .expect("a valid client")
}

/// What the withdrawal handler answers: who passed, how, and what it received.
async fn withdraw(
    State(runs): State<Arc<AtomicUsize>>,
    step_up: StepUp,
    parts: Parts,
    body: Bytes,
) -> impl IntoResponse {
    runs.fetch_add(1, Ordering::SeqCst);
    axum::Json(json!({
        "user": step_up.user_id(),
        "action": step_up.action(),
        "challenged": step_up.was_challenged(),
        "failedOpen": step_up.failed_open(),
        "verificationMethod": step_up.verification_method().map(|m| m.as_str().to_owned()),
        "idempotencyKey": step_up.idempotency_key(),
        "method": parts.method.as_str(),
        "contentType": parts.headers.get(http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()),
        "tokenHeaderSeen": parts.headers.contains_key("x-authsignal-token"),
        "body": String::from_utf8_lossy(&body),
    }))
}

/// Starts the app: `POST /withdraw` behind `configure(layer)`, `POST /payee` behind a
/// `changePayee` layer; both find the user in [`USER_HEADER`].
pub async fn start(configure: impl FnOnce(StepUpLayer) -> StepUpLayer) -> Gate {
    let emulator = emulator().await;
    let client = client(&emulator);
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    let runs = Arc::new(AtomicUsize::new(0));
    let withdraw_layer = configure(
        StepUpLayer::new(client.clone(), "withdraw")
            .user_id(user_from_header)
            .redirect_origin(origin.clone())
            .custom_from_body(["amount"]),
    );
    let payee_layer = StepUpLayer::new(client.clone(), "changePayee")
        .user_id(user_from_header)
        .redirect_origin(origin.clone());
    let app = Router::new()
        .route("/withdraw", post(withdraw).layer(withdraw_layer))
        .route("/payee", post(withdraw).layer(payee_layer))
        .with_state(runs.clone());
    let server = TestServer::builder()
        .http_transport_with_tcp_listener(listener)
        .build(app);
    Gate {
        emulator,
        server,
        origin,
        runs,
        http: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
        client,
    }
}

/// An API client's first attempt, expected to be challenged: returns the problem body.
pub async fn api_challenge(gate: &Gate, path: &str, user: &str, body: &Value) -> Value {
    let response = gate
        .server
        .post(path)
        .add_header(USER_HEADER, user)
        .add_header("accept", "application/json")
        .json(body)
        .await;
    assert_eq!(response.status_code(), 401, "{}", response.text());
    let problem = response.json::<Value>();
    if let Some(token) = problem["token"].as_str() {
        remember(token);
    }
    problem
}

/// Completes a challenge the way a custom UI does: the TOTP code through the client API,
/// with the track token as Bearer. Returns the new token.
pub async fn pass_totp(gate: &Gate, user: &str, track_token: &str) -> String {
    let code = gate.emulator.totp_code(user).expect("the user is enrolled");
    let answer: Value = gate
        .http
        .post(format!("{}/client/verify/totp", gate.emulator.api_url()))
        .bearer_auth(track_token)
        .json(&json!({ "verificationCode": code }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(answer["isVerified"], true, "{answer}");
    remember(answer["accessToken"].as_str().unwrap())
}

/// API leg 1 and the custom-UI challenge in one: returns (problem body, validated token).
pub async fn api_token(gate: &Gate, path: &str, user: &str, body: &Value) -> (Value, String) {
    let problem = api_challenge(gate, path, user, body).await;
    let track_token = problem["token"].as_str().expect("the 401 carries a token");
    let token = pass_totp(gate, user, track_token).await;
    (problem, token)
}

/// The browser's part on the pre-built UI: returns where the UI sends the browser back.
pub async fn complete_ui(gate: &Gate, ui_url: &str) -> String {
    let back = gate
        .emulator
        .complete_prebuilt_ui(ui_url)
        .await
        .expect("the pre-built UI accepts the code");
    if let Some(token) = back.split("token=").nth(1) {
        remember(token);
    }
    back
}

pub const NAVIGATION_ACCEPT: &str =
    "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";

/// A browser form POST, expected to be sent to the pre-built UI: returns the `Location`.
pub async fn browser_submit(gate: &Gate, user: &str, form: &[(&str, &str)]) -> String {
    let response = gate
        .server
        .post("/withdraw")
        .add_header(USER_HEADER, user)
        .add_header("accept", NAVIGATION_ACCEPT)
        .add_header("sec-fetch-mode", "navigate")
        .form(&form)
        .await;
    assert_eq!(response.status_code(), 303, "{}", response.text());
    response.header("location").to_str().unwrap().to_owned()
}

/// The path and query of an absolute URL on the app.
pub fn local_path(origin: &str, url: &str) -> String {
    url.strip_prefix(origin)
        .unwrap_or_else(|| panic!("{url} is not on {origin}"))
        .to_owned()
}

/// The browser's way back: it follows the UI's redirect (a GET), gets the gate's resume
/// page, and that page posts the form back. Returns the final response.
pub async fn follow_back(gate: &Gate, back: &str, user: &str) -> axum_test::TestResponse {
    let page = gate
        .server
        .get(&local_path(&gate.origin, back))
        .add_header(USER_HEADER, user)
        .add_header("accept", NAVIGATION_ACCEPT)
        .await;
    assert_eq!(page.status_code(), 200, "{}", page.text());
    assert_eq!(page.header("cache-control"), "no-store");
    assert_eq!(page.header("referrer-policy"), "no-referrer");
    let html = page.text();
    let action = html
        .split("action=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the resume page has a form")
        .replace("&amp;", "&");
    assert!(html.contains("method=\"post\""));
    gate.server
        .post(&action)
        .add_header(USER_HEADER, user)
        .add_header("accept", NAVIGATION_ACCEPT)
        .content_type("application/x-www-form-urlencoded")
        .bytes(bytes::Bytes::new())
        .await
}
