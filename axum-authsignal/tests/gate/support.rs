//! The harness every gate test shares: an emulator, an app with gated routes served over
//! real HTTP, a count of handler runs, and a capture of every log line of the suite that
//! every test checks when it ends.

use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use authsignal::{Authsignal, RetryPolicy};
use authsignal_emulator::{ActionConfig, Condition, Emulator, EmulatorHandle, Outcome, Rule};
use axum::Router;
use axum::extract::{OriginalUri, State};
use axum::response::IntoResponse;
use axum::routing::post;
use axum_authsignal::{StepUp, StepUpConfig, StepUpConfigBuilder, StepUpLayer};
use axum_test::TestServer;
use base64::Engine as _;
use bytes::Bytes;
use http::request::Parts;
use serde_json::{Value, json};
use tracing_subscriber::util::SubscriberInitExt as _;

#[path = "stand_in.rs"]
pub mod stand_in;

/// The tenant secret of every emulator in the suite; no log line may ever contain it, nor
/// its Basic-auth or percent-encoded forms (it has characters that make them differ).
pub const SECRET: &str = "gate suite/secret+7d1f=0c9a&x";
/// Amounts above this are challenged.
pub const THRESHOLD: f64 = 1000.0;
/// The header the tests' stand-in for an auth layer reads the user from.
pub const USER_HEADER: &str = "x-test-user";

/// Every log line written while the suite runs, at TRACE, spans and `log` records
/// included.
pub fn logs() -> &'static Arc<Mutex<Vec<u8>>> {
    static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        let buffer = Arc::new(Mutex::new(Vec::new()));
        let writer = buffer.clone();
        tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_span_events(tracing_subscriber::fmt::format::FmtSpan::CLOSE)
            .with_ansi(false)
            .with_writer(move || Capture(writer.clone()))
            .finish()
            // Also installs the `log` bridge, so that reqwest's and hyper's records land here.
            .try_init()
            .expect("one subscriber per suite");
        buffer
    })
}

struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        let mut log = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        log.extend_from_slice(bytes);
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

/// The forms of the secret a log line could carry.
fn secret_forms() -> Vec<String> {
    vec![
        SECRET.to_owned(),
        base64::engine::general_purpose::STANDARD.encode(format!("{SECRET}:")),
        percent_encoding::utf8_percent_encode(SECRET, percent_encoding::NON_ALPHANUMERIC)
            .to_string(),
    ]
}

/// Fails if the captured logs hold the tenant secret in any form, any of `tokens`, or any
/// token a test of the suite handled so far. Every test runs it when it ends (see
/// [`LogCheck`]), so whichever test ends last checks everything the suite logged.
///
/// Each check looks only at what is new since the last one: the log written since (with
/// an overlap, for a needle cut in two by the last check's end) for every needle, and the
/// whole log for the tokens remembered since. So each needle meets each log byte about
/// once in the whole suite, in one pass for all of them, instead of once per test and
/// per needle (which made a single-process `cargo test` of the suite quadratic).
pub fn assert_logs_clean(tokens: &[&str]) {
    static CHECKED: Mutex<Checked> = Mutex::new(Checked {
        log_len: 0,
        tokens: 0,
    });
    // Poison is ignored: one failed check must not fail every later test with it.
    let mut checked = CHECKED.lock().unwrap_or_else(PoisonError::into_inner);
    // Held while searching (nothing here logs): other tests' log lines wait, none is missed.
    let log = logs().lock().unwrap_or_else(PoisonError::into_inner);
    let seen = seen_tokens().lock().unwrap().clone();
    for token in tokens
        .iter()
        .copied()
        .chain(seen.iter().map(String::as_str))
    {
        assert!(token.len() > 20, "not a token: {token:?}");
    }
    let secrets = secret_forms();
    let longest = secrets
        .iter()
        .chain(&seen)
        .map(String::len)
        .chain(tokens.iter().map(|token| token.len()))
        .max()
        .unwrap_or(0);
    let new_log = &log[checked.log_len.saturating_sub(longest)..];
    let old_tokens = seen[..checked.tokens].iter().map(String::as_str);
    let new_tokens: Vec<&str> = seen[checked.tokens..]
        .iter()
        .map(String::as_str)
        .chain(tokens.iter().copied())
        .collect();
    assert!(
        !holds_any(new_log, secrets.iter()),
        "the secret reached the logs"
    );
    assert!(!holds_any(new_log, old_tokens), "a token reached the logs");
    assert!(!holds_any(&log, new_tokens), "a token reached the logs");
    *checked = Checked {
        log_len: log.len(),
        tokens: seen.len(),
    };
}

/// Whether `haystack` holds any of `needles`, in one pass over it for all of them.
fn holds_any<N: AsRef<[u8]>>(haystack: &[u8], needles: impl IntoIterator<Item = N>) -> bool {
    let searcher = aho_corasick::AhoCorasick::new(needles).expect("needles this short");
    searcher.is_match(haystack)
}

/// How far the log checks have got: the log's length and the count of remembered tokens.
struct Checked {
    log_len: usize,
    tokens: usize,
}

/// Checks the logs when a test ends (unless it is already failing).
pub struct LogCheck;

impl Drop for LogCheck {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            assert_logs_clean(&[]);
        }
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
    pub config: StepUpConfig,
    pub _log_check: LogCheck,
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
    original: OriginalUri,
    parts: Parts,
    body: Bytes,
) -> impl IntoResponse {
    runs.fetch_add(1, Ordering::SeqCst);
    axum::Json(json!({
        "user": step_up.user_id(),
        "action": step_up.action(),
        "challenged": step_up.was_challenged(),
        "reviewed": step_up.was_reviewed(),
        "enrolled": step_up.is_enrolled(),
        "failedOpen": step_up.failed_open(),
        "verificationMethod": step_up.verification_method().map(|m| m.as_str().to_owned()),
        "idempotencyKey": step_up.idempotency_key(),
        "judged": step_up.custom(),
        "judgedAmount": step_up.judged_number("amount"),
        "method": parts.method.as_str(),
        "uri": parts.uri.to_string(),
        "originalUri": original.0.to_string(),
        "contentType": parts.headers.get(http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()),
        "contentEncoding": parts.headers.get(http::header::CONTENT_ENCODING).and_then(|v| v.to_str().ok()),
        "contentLength": parts.headers.get(http::header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()),
        "contentLanguage": parts.headers.get(http::header::CONTENT_LANGUAGE).and_then(|v| v.to_str().ok()),
        "tokenHeaderSeen": parts.headers.contains_key("x-authsignal-token"),
        "body": String::from_utf8_lossy(&body),
    }))
}

/// An app's sign-out: (the session would end here) and the resume cookies go with it.
async fn sign_out(axum::Extension(config): axum::Extension<StepUpConfig>) -> impl IntoResponse {
    (config.clear_resume_cookies(), "signed out")
}

type ConfigFn = Box<dyn FnOnce(StepUpConfigBuilder) -> StepUpConfigBuilder>;
type LayerFn = Box<dyn FnOnce(StepUpLayer) -> StepUpLayer>;

/// How to start the harness: the client's time bounds, the shared configuration and the
/// `withdraw` gate's own settings.
pub struct Setup {
    relaxed: bool,
    stand_in: Option<stand_in::Rewrite>,
    redirect_origin: Option<String>,
    config: ConfigFn,
    layer: LayerFn,
}

pub fn setup() -> Setup {
    Setup {
        relaxed: false,
        stand_in: None,
        redirect_origin: None,
        config: Box::new(|config| config),
        layer: Box::new(|layer| layer),
    }
}

impl Setup {
    /// The client's default time bounds, for tests that load the machine.
    pub fn relaxed_timeouts(mut self) -> Self {
        self.relaxed = true;
        self
    }

    /// Puts a stand-in Authsignal between the gate and the emulator that rewrites the
    /// answers of `track` and `validateChallenge` (the emulator's UI origin is allowed).
    pub fn stand_in(mut self, rewrite: stand_in::Rewrite) -> Self {
        self.stand_in = Some(rewrite);
        self
    }

    /// The configured origin, instead of the listener's own `http://` one: the tests
    /// still reach the app over the listener, and read the gate's URLs on this origin
    /// (`Gate::origin`).
    pub fn redirect_origin(mut self, origin: &str) -> Self {
        self.redirect_origin = Some(origin.to_owned());
        self
    }

    pub fn config(
        mut self,
        configure: impl FnOnce(StepUpConfigBuilder) -> StepUpConfigBuilder + 'static,
    ) -> Self {
        self.config = Box::new(configure);
        self
    }

    pub fn layer(mut self, configure: impl FnOnce(StepUpLayer) -> StepUpLayer + 'static) -> Self {
        self.layer = Box::new(configure);
        self
    }

    /// Starts the app: `POST` and `PUT /withdraw` and `POST /withdraw/other` behind
    /// `withdraw` gates, `POST /payee` behind a `changePayee` gate; all find the user in
    /// [`USER_HEADER`]. `POST /logout` is an app's sign-out: it clears the resume cookies.
    pub async fn start(self) -> Gate {
        let emulator = emulator().await;
        let mut client = if self.relaxed {
            emulator.client()
        } else {
            client(&emulator)
        };
        let mut ui_origin = None;
        if let Some(rewrite) = self.stand_in {
            let stand_in = stand_in::start(emulator.origin(), rewrite).await;
            client = emulator
                .client_builder()
                .base_url(format!("{stand_in}/v1"))
                .build()
                .unwrap();
            ui_origin = Some(emulator.origin().to_owned());
        }
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let origin = self
            .redirect_origin
            .unwrap_or_else(|| format!("http://{}", listener.local_addr().unwrap()));
        let runs = Arc::new(AtomicUsize::new(0));
        let mut builder = StepUpConfig::builder(client.clone())
            .user_id(user_from_header)
            .redirect_origin(origin.clone());
        if let Some(ui_origin) = ui_origin {
            builder = builder.ui_origin(ui_origin);
        }
        let config = (self.config)(builder).build();
        let withdraw_gate = (self.layer)(config.gate("withdraw").custom_from_body(["amount"]));
        let app = Router::new()
            .route(
                "/withdraw",
                post(withdraw).put(withdraw).layer(withdraw_gate.clone()),
            )
            .route("/withdraw/other", post(withdraw).layer(withdraw_gate))
            .route("/payee", post(withdraw).layer(config.gate("changePayee")))
            .route("/logout", post(sign_out))
            .with_state(runs.clone())
            .layer(axum::Extension(config.clone()));
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
            config,
            _log_check: LogCheck,
        }
    }
}

/// Starts the harness with the `withdraw` gate configured by `configure`.
pub async fn start(configure: impl FnOnce(StepUpLayer) -> StepUpLayer + 'static) -> Gate {
    setup().layer(configure).start().await
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
    pass_totp_at(&gate.emulator, &gate.http, user, track_token).await
}

pub async fn pass_totp_at(
    emulator: &EmulatorHandle,
    http: &reqwest::Client,
    user: &str,
    track_token: &str,
) -> String {
    let code = emulator.totp_code(user).expect("the user is enrolled");
    let answer: Value = http
        .post(format!("{}/client/verify/totp", emulator.api_url()))
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

/// An API client's retry of `POST /withdraw` as `user`, with `token` in the header.
pub async fn api_retry(
    gate: &Gate,
    user: &str,
    token: &str,
    body: &Value,
) -> axum_test::TestResponse {
    gate.server
        .post("/withdraw")
        .add_header(USER_HEADER, user)
        .add_header("x-authsignal-token", token)
        .json(body)
        .await
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

/// A browser navigation on the app, with a user and cookies.
pub async fn navigate(
    gate: &Gate,
    method: http::Method,
    path: &str,
    user: &str,
    cookie: Option<&str>,
    form: Option<&str>,
) -> axum_test::TestResponse {
    let mut request = gate
        .server
        .method(method, path)
        .add_header(USER_HEADER, user)
        .add_header("accept", NAVIGATION_ACCEPT)
        .add_header("sec-fetch-mode", "navigate");
    if let Some(cookie) = cookie {
        request = request.add_header("cookie", cookie);
    }
    if let Some(form) = form {
        request = request
            .content_type("application/x-www-form-urlencoded")
            .bytes(Bytes::from(form.to_owned()));
    }
    request.await
}

/// The `name=value` of a response's `Set-Cookie` named `name`, if any.
pub fn cookie_set(response: &axum_test::TestResponse, name: &str) -> Option<String> {
    response
        .iter_headers_by_name("set-cookie")
        .filter_map(|value| value.to_str().ok())
        .map(|value| value.split(';').next().unwrap_or("").to_owned())
        .find(|pair| pair.starts_with(&format!("{name}=")))
}

/// The resume page's form: (absolute action, body it posts).
pub fn resume_form(html: &str) -> (String, String) {
    let attribute = |element: &str, name: &str| {
        element
            .split(&format!(" {name}=\""))
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .unwrap_or_else(|| panic!("no {name} in {element}"))
            .replace("&amp;", "&")
    };
    let form = html.split("<form").nth(1).expect("a form");
    assert_eq!(attribute(form, "method"), "post", "{html}");
    let input = form.split("<input").nth(1).expect("a field");
    (
        attribute(form, "action"),
        format!("{}={}", attribute(input, "name"), attribute(input, "value")),
    )
}

/// The resume cookie's name on the gate's origin.
pub fn resume_cookie_name(gate: &Gate) -> &'static str {
    if gate.origin.starts_with("https://") {
        "__Host-authsignal-resume"
    } else {
        "authsignal-resume"
    }
}

/// Whether `response` clears the resume cookie under both its names, each with the
/// attributes a browser needs to accept the removal.
pub fn clears_both_resume_cookies(response: &axum_test::TestResponse) -> bool {
    let cleared: Vec<String> = response
        .iter_headers_by_name("set-cookie")
        .filter_map(|value| value.to_str().ok())
        .filter(|value| value.contains("Max-Age=0") && value.contains("Path=/"))
        .map(str::to_owned)
        .collect();
    let host = cleared
        .iter()
        .any(|value| value.starts_with("__Host-authsignal-resume=;") && value.contains("Secure"));
    let plain = cleared
        .iter()
        .any(|value| value.starts_with("authsignal-resume=;"));
    host && plain
}

/// The cookies of one browser on the app: what responses set, less what they remove
/// (every cookie here is set at `Path=/`).
#[derive(Debug, Default, Clone)]
pub struct Jar(Vec<(String, String)>);

impl Jar {
    /// Applies the response's `Set-Cookie`s, as a browser does.
    pub fn update(&mut self, response: &axum_test::TestResponse) {
        for value in response.iter_headers_by_name("set-cookie") {
            let set = cookie::Cookie::parse(value.to_str().unwrap().to_owned()).unwrap();
            self.0.retain(|(name, _)| name != set.name());
            if set.max_age() != Some(cookie::time::Duration::ZERO) {
                self.0.push((set.name().to_owned(), set.value().to_owned()));
            }
        }
    }

    /// Adds a cookie the way another site or a plain-http answer could plant one: before
    /// the app's own (a longer `Path` is sent first).
    pub fn plant(&mut self, name: &str, value: &str) {
        self.0.insert(0, (name.to_owned(), value.to_owned()));
    }

    /// The value of the cookie `name`, if held.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(held, _)| held == name)
            .map(|(_, value)| value.as_str())
    }

    /// The `Cookie` header, if there is any cookie.
    pub fn header(&self) -> Option<String> {
        (!self.0.is_empty()).then(|| {
            self.0
                .iter()
                .map(|(name, value)| format!("{name}={value}"))
                .collect::<Vec<_>>()
                .join("; ")
        })
    }
}

/// A browser navigation with the cookies of `jar`, which takes what the answer sets.
pub async fn navigate_with(
    gate: &Gate,
    jar: &mut Jar,
    method: http::Method,
    path: &str,
    user: &str,
    form: Option<&str>,
) -> axum_test::TestResponse {
    let response = navigate(gate, method, path, user, jar.header().as_deref(), form).await;
    jar.update(&response);
    response
}

/// Back from the UI: the browser follows the redirect to `back` (a GET with the token)
/// and is sent to the clean URL with the resume cookie, which `jar` takes. Returns the
/// clean URL's path.
pub async fn return_from_ui(gate: &Gate, jar: &mut Jar, back: &str, user: &str) -> String {
    let returned = navigate_with(
        gate,
        jar,
        http::Method::GET,
        &local_path(&gate.origin, back),
        user,
        None,
    )
    .await;
    assert_eq!(returned.status_code(), 303, "{}", returned.text());
    assert_eq!(returned.header("cache-control"), "no-store");
    assert_eq!(returned.header("referrer-policy"), "no-referrer");
    let clean = returned.header("location").to_str().unwrap().to_owned();
    assert!(!clean.contains("token"), "{clean}");
    assert!(
        cookie_set(&returned, resume_cookie_name(gate)).is_some(),
        "a resume cookie named for the origin"
    );
    local_path(&gate.origin, &clean)
}

/// The clean URL with the resume cookie: the page that posts the stashed form back, which
/// leaves the cookie in place for that post. Returns (the form's path, the body it posts).
pub async fn resume_page(gate: &Gate, jar: &mut Jar, clean: &str, user: &str) -> (String, String) {
    let page = navigate_with(gate, jar, http::Method::GET, clean, user, None).await;
    assert_eq!(page.status_code(), 200, "{}", page.text());
    assert_eq!(page.header("cache-control"), "no-store");
    assert!(
        page.iter_headers_by_name("set-cookie").next().is_none(),
        "the resume cookie stays until the page's post"
    );
    let (action, form) = resume_form(&page.text());
    assert!(!action.contains("token"), "{action}");
    (local_path(&gate.origin, &action), form)
}

/// The browser's way back: it follows the UI's redirect to `back` (a GET with the token),
/// is sent to the clean URL with the resume cookie, gets the resume page there, and that
/// page posts the form back. Returns the final response, which cleared the resume cookie
/// under both its names: nothing of the step-up is left in the browser.
pub async fn follow_back(gate: &Gate, back: &str, user: &str) -> axum_test::TestResponse {
    let mut jar = Jar::default();
    let clean = return_from_ui(gate, &mut jar, back, user).await;
    let (action, form) = resume_page(gate, &mut jar, &clean, user).await;
    let done = navigate_with(
        gate,
        &mut jar,
        http::Method::POST,
        &action,
        user,
        Some(&form),
    )
    .await;
    assert!(
        clears_both_resume_cookies(&done),
        "the resume cookies are cleared"
    );
    assert_eq!(
        jar.header(),
        None,
        "nothing of the step-up is left in the browser"
    );
    done
}
