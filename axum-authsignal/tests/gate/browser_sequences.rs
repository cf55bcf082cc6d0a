//! Generated browser-return sequences: two browsers (two users), each with a cookie jar the
//! test keeps, take random steps through the browser path over real HTTP against the
//! emulator: the challenged request (a form `POST` and a `GET`), the pre-built UI, the
//! return `GET ?token=`, the 303 after it, the resume page's `POST`; and between them
//! refreshes (the last request again), a second tab (an earlier request again, with the
//! same cookies), back (an earlier resume page posted again), planted cookies (a plain-name
//! resume cookie at the route's path, older than the real one, so sent before it: junk,
//! another user's real one, a spent one), another user's session sending this browser's
//! cookies (from a copy of the jar: its answers change only that copy), a dropped session
//! or resume cookie, and sign-out (the app's sign-out ends the session and answers with
//! `StepUpConfig::clear_resume_cookies`). Each sequence then follows every challenge still
//! open through to its end, and posts again the resume pages of those that must not run.
//!
//! The property, checked after every step and at the end of every sequence: the handler
//! runs exactly once for each challenge whose browser came back and followed through; not
//! at all for one whose browser signed out (or lost its resume cookie, dropped or cleared by
//! the 401 of a request with no user) after coming back and before the resume ran; never
//! for a request another user's session sent; never as another user nor with a request
//! other than the challenged one (method, path and query, body); and every answer is a
//! 2xx, 3xx, 4xx or 503 with `Retry-After`, never a 500. A sign-out before the browser came
//! back leaves the challenge to its token, which only the same user can redeem: signed in
//! again, the browser follows it through. When a sequence ends, no resume cookie of the
//! app's is left in either jar.
//!
//! Each sequence draws from its own seed (`seed(https, n)`), so a failure names a sequence
//! that `BROWSER_SEQUENCE=n` runs again alone, and prints every step it took.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};

use authsignal_emulator::EmulatorHandle;
use axum::Router;
use axum::extract::State;
use axum::response::{AppendHeaders, Html, IntoResponse};
use axum::routing::{get, post};
use axum_authsignal::{StepUp, StepUpConfig};
use bytes::Bytes;
use http::header::{COOKIE, LOCATION, RETRY_AFTER, SET_COOKIE};
use http::request::Parts;
use http::{HeaderMap, Method, StatusCode};

use crate::support::{LogCheck, NAVIGATION_ACCEPT, emulator, remember, resume_form};

const SEED: u64 = 0x5eed_2026_1206;
/// Sequences per origin; the suite runs two origins, so twice this per run.
const SEQUENCES: u64 = 600;
/// How often a browser following its challenge through comes back after a 503.
const MAX_RETRIES: usize = 3;
/// Random steps per sequence, before every open challenge is followed through.
const STEPS: std::ops::Range<usize> = 6..26;

/// The resume cookie's name on an `https` origin, and on a plain-`http` one.
const HOST_RESUME: &str = "__Host-authsignal-resume";
const PLAIN_RESUME: &str = "authsignal-resume";
const SESSION: &str = "session";

// ---------------------------------------------------------------------------------------
// The app: a session store, sign-in and sign-out, a gated form POST and a gated GET.

/// One run of a gated handler, as the handler saw it.
#[derive(Debug, Clone)]
struct Run {
    user: String,
    method: Method,
    target: String,
    body: String,
    challenged: bool,
}

type Sessions = Arc<Mutex<HashMap<String, String>>>;

#[derive(Clone)]
struct AppState {
    runs: Arc<Mutex<Vec<Run>>>,
    sessions: Sessions,
    config: StepUpConfig,
    secure: &'static str,
}

/// The value of the request's first cookie named `name`.
fn cookie_of(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|header| header.to_str().ok())
        .flat_map(|header| header.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(found, _)| *found == name)
        .map(|(_, value)| value.to_owned())
}

async fn gated(State(app): State<AppState>, step_up: StepUp, parts: Parts, body: Bytes) -> String {
    app.runs.lock().unwrap().push(Run {
        user: step_up.user_id().to_owned(),
        method: parts.method.clone(),
        target: parts.uri.to_string(),
        body: String::from_utf8_lossy(&body).into_owned(),
        challenged: step_up.was_challenged(),
    });
    "done".to_owned()
}

async fn withdrawal_form() -> Html<&'static str> {
    Html("<form method=\"post\" action=\"/withdraw\"><input name=\"amount\"></form>")
}

async fn sign_in(State(app): State<AppState>, body: String) -> impl IntoResponse {
    let user = body.strip_prefix("user=").unwrap_or_default().to_owned();
    let id = uuid::Uuid::new_v4().simple().to_string();
    app.sessions.lock().unwrap().insert(id.clone(), user);
    AppendHeaders([(
        SET_COOKIE,
        format!(
            "{SESSION}={id}; Path=/; HttpOnly; SameSite=Lax{}",
            app.secure
        ),
    )])
}

/// Ends the session, and with it any step-up the browser is coming back from.
async fn sign_out(State(app): State<AppState>, headers: HeaderMap) -> impl IntoResponse {
    if let Some(id) = cookie_of(&headers, SESSION) {
        app.sessions.lock().unwrap().remove(&id);
    }
    (
        app.config.clear_resume_cookies(),
        AppendHeaders([(
            SET_COOKIE,
            format!(
                "{SESSION}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0{}",
                app.secure
            ),
        )]),
        "signed out",
    )
}

/// The app under test, served over HTTP, with `origin` as its configured redirect origin.
struct App {
    emulator: EmulatorHandle,
    http: reqwest::Client,
    /// Where the server listens (always `http://`).
    base: String,
    /// The configured origin (`http://` or `https://`, the same host and port).
    origin: String,
    https: bool,
    runs: Arc<Mutex<Vec<Run>>>,
    sessions: Sessions,
    _log_check: LogCheck,
}

impl App {
    async fn start(https: bool) -> App {
        let emulator = emulator().await;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let base = format!("http://{address}");
        let origin = format!("{}://{address}", if https { "https" } else { "http" });
        let sessions = Sessions::default();
        let lookup = sessions.clone();
        let config = StepUpConfig::builder(emulator.client())
            .user_id(move |parts| {
                let id = cookie_of(&parts.headers, SESSION)?;
                lookup.lock().unwrap().get(&id).cloned()
            })
            .redirect_origin(origin.clone())
            .build();
        let runs = Arc::new(Mutex::new(Vec::new()));
        let state = AppState {
            runs: runs.clone(),
            sessions: sessions.clone(),
            config: config.clone(),
            secure: if https { "; Secure" } else { "" },
        };
        let withdraw = config
            .gate("withdraw")
            .custom_from_body(["amount"])
            .methods([Method::POST]);
        let app = Router::new()
            .route(
                "/withdraw",
                get(withdrawal_form).post(gated).layer(withdraw),
            )
            .route("/payee", get(gated).layer(config.gate("changePayee")))
            .route("/signin", post(sign_in))
            .route("/signout", post(sign_out))
            .with_state(state);
        tokio::spawn(async move { axum::serve(listener, app).await });
        App {
            emulator,
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            base,
            origin,
            https,
            runs,
            sessions,
            _log_check: LogCheck,
        }
    }

    fn runs(&self) -> Vec<Run> {
        self.runs.lock().unwrap().clone()
    }

    /// The path and query of a URL on the configured origin, if it is one.
    fn local(&self, url: &str) -> Option<String> {
        let rest = url.strip_prefix(&self.origin)?;
        rest.starts_with('/').then(|| rest.to_owned())
    }

    async fn exchange(&self, cookie: Option<String>, request: &Request) -> Answer {
        let mut sent = self
            .http
            .request(
                request.method.clone(),
                format!("{}{}", self.base, request.path),
            )
            .header("accept", NAVIGATION_ACCEPT)
            .header("sec-fetch-mode", "navigate");
        if let Some(cookie) = cookie.filter(|cookie| !cookie.is_empty()) {
            sent = sent.header(COOKIE, cookie);
        }
        if let Some(form) = &request.form {
            sent = sent
                .header("content-type", "application/x-www-form-urlencoded")
                .body(form.clone());
        }
        let response = sent.send().await.expect("the app answers");
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.text().await.unwrap_or_default();
        Answer {
            status,
            headers,
            body,
        }
    }
}

// ---------------------------------------------------------------------------------------
// A browser's cookie jar, kept by the test so that it can plant, copy and drop cookies.

#[derive(Debug, Clone)]
struct StoredCookie {
    name: String,
    value: String,
    path: String,
    /// Set by someone else (a sibling subdomain, a plain-http answer): the app's own
    /// `Set-Cookie`s, host-only, never replace or remove it.
    planted: bool,
    /// Creation order: of two cookies with paths of one length, the older is sent first.
    created: u64,
}

#[derive(Debug, Clone)]
struct Jar {
    https: bool,
    cookies: Vec<StoredCookie>,
    clock: u64,
    /// The cookies the last answer applied set: (name, value).
    just_set: Vec<(String, String)>,
}

fn path_matches(cookie_path: &str, request_path: &str) -> bool {
    let path = request_path.split('?').next().unwrap_or("/");
    cookie_path == "/"
        || path == cookie_path
        || path
            .strip_prefix(cookie_path)
            .is_some_and(|rest| rest.starts_with('/'))
}

impl Jar {
    fn new(https: bool) -> Jar {
        Jar {
            https,
            cookies: Vec::new(),
            clock: 1,
            just_set: Vec::new(),
        }
    }

    /// The `Cookie` header a browser sends to `path`: longer paths first, then older first.
    fn header_for(&self, path: &str) -> String {
        let mut sent: Vec<&StoredCookie> = self
            .cookies
            .iter()
            .filter(|cookie| path_matches(&cookie.path, path))
            .collect();
        sent.sort_by_key(|cookie| (std::cmp::Reverse(cookie.path.len()), cookie.created));
        sent.iter()
            .map(|cookie| format!("{}={}", cookie.name, cookie.value))
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// Applies an answer's `Set-Cookie`s as a browser does (with `__Host-` and `Secure`
    /// kept to an https origin). Returns a line per cookie set or removed.
    fn apply(&mut self, headers: &HeaderMap, request_path: &str) -> Vec<String> {
        let mut changes = Vec::new();
        self.just_set.clear();
        for value in headers.get_all(SET_COOKIE) {
            let Ok(value) = value.to_str() else { continue };
            let mut attributes = value.split(';').map(str::trim);
            let Some((name, cookie_value)) = attributes.next().and_then(|p| p.split_once('='))
            else {
                continue;
            };
            let (mut path, mut secure, mut expired, mut domain) = (None, false, false, false);
            for attribute in attributes {
                let (key, argument) = attribute.split_once('=').unwrap_or((attribute, ""));
                match key.to_ascii_lowercase().as_str() {
                    "path" => path = Some(argument.to_owned()),
                    "secure" => secure = true,
                    "domain" => domain = true,
                    "max-age" => expired |= argument.parse::<i64>().is_ok_and(|age| age <= 0),
                    "expires" => {
                        expired |= httpdate::parse_http_date(argument)
                            .is_ok_and(|at| at <= std::time::SystemTime::now());
                    }
                    _ => {}
                }
            }
            let path = path.unwrap_or_else(|| {
                let path = request_path.split('?').next().unwrap_or("/");
                match path.rfind('/') {
                    Some(0) | None => "/".to_owned(),
                    Some(at) => path[..at].to_owned(),
                }
            });
            // What a browser refuses: `Secure` from a plain-http origin, a `__Host-` cookie
            // that is not `Secure`, has a `Domain` or a path other than `/`.
            if (secure && !self.https)
                || (name.starts_with("__Host-") && (!secure || domain || path != "/"))
            {
                changes.push(format!("refused {value}"));
                continue;
            }
            self.cookies
                .retain(|c| c.planted || c.name != name || c.path != path);
            if expired {
                changes.push(format!("cleared {name} (Path={path})"));
            } else {
                self.clock += 1;
                self.cookies.push(StoredCookie {
                    name: name.to_owned(),
                    value: cookie_value.to_owned(),
                    path: path.clone(),
                    planted: false,
                    created: self.clock,
                });
                self.just_set
                    .push((name.to_owned(), cookie_value.to_owned()));
                changes.push(format!("set {name}=… (Path={path})"));
            }
        }
        changes
    }

    /// Plants a cookie set by someone else, older than every cookie of the app's.
    fn plant(&mut self, name: &str, value: &str, path: &str) {
        self.cookies.push(StoredCookie {
            name: name.to_owned(),
            value: value.to_owned(),
            path: path.to_owned(),
            planted: true,
            created: 0,
        });
    }

    /// The app's own resume cookies (either name), not the planted ones.
    fn resume_cookies(&self) -> Vec<&StoredCookie> {
        self.cookies
            .iter()
            .filter(|c| !c.planted && (c.name == HOST_RESUME || c.name == PLAIN_RESUME))
            .collect()
    }

    fn planted_for(&self, path: &str) -> usize {
        self.cookies
            .iter()
            .filter(|c| c.planted && path_matches(&c.path, path))
            .count()
    }

    fn drop_named(&mut self, name: &str) {
        self.cookies.retain(|c| c.planted || c.name != name);
    }
}

// ---------------------------------------------------------------------------------------
// The model: browsers, their challenges, and what each challenge's fate requires.

#[derive(Debug, Clone)]
struct Request {
    method: Method,
    /// Path and query on the app.
    path: String,
    form: Option<String>,
}

impl Request {
    fn get(path: &str) -> Request {
        Request {
            method: Method::GET,
            path: path.to_owned(),
            form: None,
        }
    }

    fn post(path: &str, form: &str) -> Request {
        Request {
            method: Method::POST,
            path: path.to_owned(),
            form: Some(form.to_owned()),
        }
    }
}

struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

impl Answer {
    fn location(&self) -> Option<&str> {
        self.headers.get(LOCATION).and_then(|v| v.to_str().ok())
    }
}

/// What became of a challenge, for the runs it must have had when the sequence ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fate {
    /// Followed through by the end of the sequence: exactly one run.
    Open,
    /// Issued again by a refresh or a second tab, whose pre-built UI the browser left
    /// unfinished: no run.
    Abandoned,
    /// The browser signed out after coming back and before the resume ran: no run.
    SignedOut,
    /// The browser lost its resume cookie after coming back (dropped, or cleared by the
    /// 401 of a request with no user) and before the resume ran: no run.
    CookieLost,
}

#[derive(Debug)]
struct Challenge {
    browser: usize,
    user: String,
    method: Method,
    /// Path and query as challenged (and as the handler must see them).
    target: String,
    body: String,
    memo: String,
    ui: String,
    /// Where the pre-built UI sends the browser back (path and query, with the token).
    back: Option<String>,
    /// The clean URL the return sent the browser to, once it came back.
    clean: Option<String>,
    resume_id: Option<String>,
    fate: Fate,
    runs: usize,
}

impl Challenge {
    fn returned(&self) -> bool {
        self.clean.is_some()
    }
}

struct Browser {
    user: String,
    jar: Jar,
    signed_in: bool,
    /// The challenge this browser is stepping up for, if any.
    open: Option<usize>,
    /// Every request it sent, for a second tab to replay.
    sent: Vec<Request>,
    last: Option<Request>,
    /// Where the last answer's 303 on the app pointed.
    next: Option<String>,
    /// Every resume page it was shown: (challenge, action path, form body).
    forms: Vec<(Option<usize>, String, String)>,
}

/// A browser's random step: the flow's own, or a disturbance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    ChallengedRequest,
    CompleteUi,
    ReturnFromUi,
    Follow303,
    ResumePagePosts,
    Refresh,
    SecondTab,
    Back,
    Plant,
    OtherUser,
    DropCookie,
    SignOut,
}

/// Who sends a step: the browser's own session, or another user's with its cookies.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Sender {
    Own,
    OtherUser,
}

/// Counts over every sequence, so that the suite cannot pass by refusing everything.
#[derive(Debug, Default)]
struct Coverage {
    sequences: usize,
    steps: usize,
    runs: usize,
    runs_get: usize,
    runs_post: usize,
    runs_with_planted: usize,
    refusals: usize,
    returns: usize,
    signed_out_after_return: usize,
    cookie_lost_after_return: usize,
    abandoned: usize,
    refreshes: usize,
    second_tabs: usize,
    backs: usize,
    plants: usize,
    other_user: usize,
    failures: usize,
}

struct Sequence<'a> {
    app: &'a App,
    rng: fastrand::Rng,
    number: u64,
    browsers: Vec<Browser>,
    challenges: Vec<Challenge>,
    transcript: String,
    violations: Vec<String>,
    /// The disturbances this sequence took, to tell which ones the failures share.
    disturbances: std::collections::BTreeSet<&'static str>,
    /// A session of a third user, for another user's session without a browser of its own.
    bystander_session: String,
    coverage: &'a mut Coverage,
}

fn status_ok(answer: &Answer) -> bool {
    let status = answer.status;
    status.is_success()
        || status.is_redirection()
        || status.is_client_error()
        || retry_later(answer)
}

/// A 503 with `Retry-After`: nothing decided, come back later.
fn retry_later(answer: &Answer) -> bool {
    answer.status == StatusCode::SERVICE_UNAVAILABLE && answer.headers.contains_key(RETRY_AFTER)
}

fn resume_id_of(value: &str) -> String {
    value.split('.').next().unwrap_or_default().to_owned()
}

impl<'a> Sequence<'a> {
    async fn new(app: &'a App, number: u64, coverage: &'a mut Coverage) -> Sequence<'a> {
        let mut browsers = Vec::new();
        for letter in ["a", "b"] {
            let user = format!("{letter}{number}");
            app.emulator.enroll_totp(&user);
            browsers.push(Browser {
                user,
                jar: Jar::new(app.https),
                signed_in: false,
                open: None,
                sent: Vec::new(),
                last: None,
                next: None,
                forms: Vec::new(),
            });
        }
        // Enrolled, so that its own requests to the gated routes are challenged too.
        app.emulator.enroll_totp(&format!("m{number}"));
        let bystander_session = uuid::Uuid::new_v4().simple().to_string();
        app.sessions
            .lock()
            .unwrap()
            .insert(bystander_session.clone(), format!("m{number}"));
        let mut sequence = Sequence {
            app,
            rng: fastrand::Rng::with_seed(seed(app.https, number)),
            number,
            browsers,
            challenges: Vec::new(),
            transcript: String::new(),
            violations: Vec::new(),
            disturbances: Default::default(),
            bystander_session,
            coverage,
        };
        for browser in 0..2 {
            sequence.sign_in(browser).await;
        }
        sequence
    }

    fn note(&mut self, line: String) {
        let _ = writeln!(self.transcript, "  {line}");
    }

    fn violation(&mut self, what: String) {
        self.note(format!("!! {what}"));
        self.violations.push(what);
    }

    // ---- sending ----------------------------------------------------------------------

    /// Sends `request` from browser `b` with its own jar and session, and applies the
    /// answer to the model.
    async fn send(&mut self, b: usize, request: Request, why: &str) -> Answer {
        let cookie = self.browsers[b].jar.header_for(&request.path);
        let planted = self.browsers[b].jar.planted_for(&request.path);
        let runs_before = self.app.runs.lock().unwrap().len();
        let answer = self.app.exchange(Some(cookie.clone()), &request).await;
        let changes = self.browsers[b].jar.apply(&answer.headers, &request.path);
        self.note(format!(
            "[{}] {why}: {} {} cookie[{}] -> {} {} {changes:?}",
            self.browsers[b].user,
            request.method,
            redact(&request.path),
            redact_cookies(&cookie),
            answer.status.as_u16(),
            answer.location().map(redact).unwrap_or_default(),
        ));
        self.browsers[b].sent.push(request.clone());
        self.browsers[b].last = Some(request.clone());
        self.check_answer(&request, &answer);
        let runs = self.app.runs()[runs_before..].to_vec();
        self.attribute(b, Sender::Own, &runs, planted);
        self.observe(b, &request, &answer);
        answer
    }

    /// Sends `request` with browser `victim`'s cookies (its session cookie left out) and
    /// another user's session; the answer's cookies go to that user's copy, not the jar.
    async fn send_as_other_user(&mut self, victim: usize, request: Request) {
        let other = 1 - victim;
        let session = match (self.browsers[other].signed_in, self.rng.bool()) {
            (true, true) => cookie_value(&self.browsers[other].jar, SESSION),
            _ => Some(self.bystander_session.clone()),
        }
        .unwrap_or_else(|| self.bystander_session.clone());
        let mut copy = self.browsers[victim].jar.clone();
        copy.drop_named(SESSION);
        let cookie = format!("{}={session}; {}", SESSION, copy.header_for(&request.path));
        let runs_before = self.app.runs.lock().unwrap().len();
        let answer = self.app.exchange(Some(cookie.clone()), &request).await;
        self.note(format!(
            "[another user with {}'s cookies] {} {} cookie[{}] -> {}",
            self.browsers[victim].user,
            request.method,
            redact(&request.path),
            redact_cookies(&cookie),
            answer.status.as_u16(),
        ));
        self.check_answer(&request, &answer);
        let runs = self.app.runs()[runs_before..].to_vec();
        self.attribute(victim, Sender::OtherUser, &runs, 0);
        self.coverage.other_user += 1;
        self.disturbances.insert("another user's session");
    }

    fn check_answer(&mut self, request: &Request, answer: &Answer) {
        if answer.status.is_client_error() {
            self.coverage.refusals += 1;
        }
        if !status_ok(answer) {
            self.violation(format!(
                "answered other than 2xx, 3xx, 4xx or 503 with Retry-After: {}",
                answer.status
            ));
        }
        if let Some(location) = answer.location()
            && self.app.local(location).is_none()
            && !location.starts_with(&format!("{}/ui/", self.app.emulator.origin()))
        {
            self.violation(format!("a Location off the app and the UI: {location}"));
        }
        // Nothing of the step-up lingers where a browser keeps it: no token in a URL the
        // app sends the browser to, none in a `Referer` from the page at the token's URL,
        // no cached copy of a page that carries a resume id.
        if let Some(location) = answer.location()
            && self
                .app
                .local(location)
                .is_some_and(|path| path.contains("token"))
        {
            self.violation(format!(
                "a token in a Location on the app: {}",
                redact(location)
            ));
        }
        if request.path.contains("token=")
            && answer
                .headers
                .get("referrer-policy")
                .is_none_or(|policy| policy != "no-referrer")
        {
            self.violation(format!(
                "no Referrer-Policy at the token's URL: {}",
                answer.status
            ));
        }
        let carries_resume = answer.body.contains("name=\"authsignal-resume\"")
            || answer.headers.get_all(SET_COOKIE).iter().any(|value| {
                value.to_str().is_ok_and(|value| {
                    let pair = value.split(';').next().unwrap_or_default();
                    pair.contains("authsignal-resume=") && !pair.ends_with('=')
                })
            });
        if carries_resume
            && answer
                .headers
                .get("cache-control")
                .is_none_or(|value| value != "no-store")
        {
            self.violation(format!(
                "a resume id in a cacheable answer: {}",
                answer.status
            ));
        }
    }

    /// Checks the handler runs one step caused, and counts them against their challenges.
    fn attribute(&mut self, b: usize, sender: Sender, runs: &[Run], planted: usize) {
        for run in runs {
            let described = format!(
                "{} {} by {} challenged={} body {:?}",
                run.method, run.target, run.user, run.challenged, run.body
            );
            self.note(format!("ran: {described}"));
            if sender == Sender::OtherUser {
                self.violation(format!(
                    "ran for a request of another user's session: {described}"
                ));
                continue;
            }
            if !run.challenged {
                self.violation(format!("ran without a step-up: {described}"));
                continue;
            }
            if run.user != self.browsers[b].user {
                self.violation(format!("ran as another user: {described}"));
                continue;
            }
            // The newest open challenge of this browser that came back, with this request.
            let found = self.challenges.iter().rposition(|c| {
                c.browser == b
                    && c.fate == Fate::Open
                    && c.returned()
                    && c.runs == 0
                    && c.method == run.method
                    && c.target == run.target
                    && c.body == run.body
            });
            let Some(found) = found else {
                let same_request = self
                    .challenges
                    .iter()
                    .filter(|c| c.target == run.target && c.body == run.body)
                    .map(|c| format!("{:?} runs={}", c.fate, c.runs))
                    .collect::<Vec<_>>();
                self.violation(format!(
                    "ran with no open challenge of this browser's that came back for it: \
                     {described} (challenges of that request: {same_request:?})"
                ));
                continue;
            };
            self.challenges[found].runs += 1;
            self.coverage.runs += 1;
            if run.method == Method::GET {
                self.coverage.runs_get += 1;
            } else {
                self.coverage.runs_post += 1;
            }
            if planted > 0 {
                self.coverage.runs_with_planted += 1;
            }
            if self.browsers[b].open == Some(found) {
                self.browsers[b].open = None;
            }
        }
    }

    /// What the answer to a browser's own request tells the model: a new challenge, the
    /// return, a resume page, a 303 to follow, a 401 with no user.
    fn observe(&mut self, b: usize, request: &Request, answer: &Answer) {
        self.browsers[b].next = None;
        if let Some(location) = answer.location() {
            if let Some(local) = self.app.local(location) {
                if answer.status == StatusCode::SEE_OTHER {
                    self.browsers[b].next = Some(local);
                }
            } else if location.starts_with(&format!("{}/ui/challenge?", self.app.emulator.origin()))
            {
                self.issued(b, request, location.to_owned());
            }
        }
        // The return: a resume cookie set in answer to the token's URL.
        let set = self.browsers[b]
            .jar
            .just_set
            .iter()
            .find(|(name, _)| name == HOST_RESUME || name == PLAIN_RESUME)
            .map(|(_, value)| value.clone());
        if let Some(value) = set
            && let Some(c) = self.challenges.iter().position(|c| {
                c.browser == b && c.back.as_deref() == Some(&request.path) && !c.returned()
            })
        {
            let clean = self.browsers[b].next.clone();
            if clean.is_none() {
                self.violation("the return set a resume cookie without a 303".into());
            }
            self.challenges[c].clean = clean;
            // A capability like the token: the log checks look for it too.
            self.challenges[c].resume_id = Some(remember(&resume_id_of(&value)));
            self.coverage.returns += 1;
        }
        if answer.status == StatusCode::OK && answer.body.contains("name=\"authsignal-resume\"") {
            let (action, form) = resume_form(&answer.body);
            match self.app.local(&action) {
                Some(action) => {
                    let id = form.split_once('=').map(|(_, id)| id.to_owned());
                    let challenge = self
                        .challenges
                        .iter()
                        .position(|c| c.resume_id.is_some() && c.resume_id == id);
                    self.browsers[b].forms.push((challenge, action, form));
                }
                None => self.violation(format!("a resume form posting off the app: {action}")),
            }
        }
        if answer.status == StatusCode::UNAUTHORIZED {
            if self.browsers[b].signed_in {
                self.violation("a 401 for a browser with a session".into());
            } else {
                // A 401 for a request with no user clears the resume cookies.
                if !self.browsers[b].jar.resume_cookies().is_empty() {
                    self.violation("a 401 with no user left a resume cookie".into());
                }
                self.cookie_lost(b);
            }
        }
    }

    /// A 303 to the pre-built UI: a challenge issued for `request`.
    fn issued(&mut self, b: usize, request: &Request, ui: String) {
        if let Some(token) = ui.split("token=").nth(1) {
            remember(token);
        }
        if !self.browsers[b].signed_in {
            self.violation("challenged a browser with no session".into());
        }
        let memo = memo_of(request);
        let index = self.challenges.len();
        let mut fate = Fate::Open;
        match self.browsers[b].open {
            // A refresh of the challenged request while its UI was not yet done: the
            // browser is on the new challenge's UI now.
            Some(open) if self.challenges[open].back.is_none() => {
                self.challenges[open].fate = Fate::Abandoned;
                self.coverage.abandoned += 1;
                self.browsers[b].open = Some(index);
            }
            // A second tab challenged again while the first is further on: that tab's
            // challenge is left unfinished.
            Some(_) => {
                fate = Fate::Abandoned;
                self.coverage.abandoned += 1;
            }
            None => self.browsers[b].open = Some(index),
        }
        self.challenges.push(Challenge {
            browser: b,
            user: self.browsers[b].user.clone(),
            method: request.method.clone(),
            target: request.path.clone(),
            body: request.form.clone().unwrap_or_default(),
            memo,
            ui,
            back: None,
            clean: None,
            resume_id: None,
            fate,
            runs: 0,
        });
    }

    /// Browser `b` lost its resume cookie: a challenge it came back from and has not
    /// resumed can no longer run.
    fn cookie_lost(&mut self, b: usize) {
        if let Some(open) = self.browsers[b].open
            && self.challenges[open].returned()
            && self.challenges[open].runs == 0
        {
            self.challenges[open].fate = Fate::CookieLost;
            self.browsers[b].open = None;
            self.coverage.cookie_lost_after_return += 1;
        }
    }

    // ---- the steps --------------------------------------------------------------------

    async fn sign_in(&mut self, b: usize) {
        let user = self.browsers[b].user.clone();
        let answer = self
            .app
            .exchange(None, &Request::post("/signin", &format!("user={user}")))
            .await;
        self.browsers[b].jar.apply(&answer.headers, "/signin");
        self.browsers[b].signed_in = cookie_value(&self.browsers[b].jar, SESSION).is_some();
        self.note(format!("[{user}] signs in"));
    }

    async fn sign_out(&mut self, b: usize) {
        let cookie = self.browsers[b].jar.header_for("/signout");
        let request = Request::post("/signout", "");
        let answer = self.app.exchange(Some(cookie), &request).await;
        let changes = self.browsers[b].jar.apply(&answer.headers, "/signout");
        self.browsers[b].signed_in = false;
        self.disturbances.insert("sign-out");
        self.browsers[b].last = None;
        self.browsers[b].next = None;
        self.note(format!("[{}] signs out {changes:?}", self.browsers[b].user));
        self.check_answer(&request, &answer);
        if !self.browsers[b].jar.resume_cookies().is_empty() {
            self.violation("sign-out left a resume cookie in the browser".into());
        }
        if let Some(open) = self.browsers[b].open
            && self.challenges[open].returned()
            && self.challenges[open].runs == 0
        {
            self.challenges[open].fate = Fate::SignedOut;
            self.browsers[b].open = None;
            self.coverage.signed_out_after_return += 1;
        }
    }

    /// The challenged request: a withdrawal form over the threshold, or a payee change
    /// (a `GET`, always challenged).
    async fn challenged_request(&mut self, b: usize) {
        let memo = format!("s{}c{}", self.number, self.rng.u32(..));
        let to = self.rng.u16(..);
        let request = if self.rng.bool() {
            let amount = self.rng.u32(1001..1_000_000);
            Request::post(
                "/withdraw",
                &format!("amount={amount}&to=acct-{to}&memo={memo}&note=a+b%20c"),
            )
        } else {
            Request::get(&format!("/payee?to=acct-{to}&memo={memo}"))
        };
        self.send(b, request, "challenged request").await;
    }

    /// The person completes the pre-built UI of the browser's open challenge.
    async fn complete(&mut self, b: usize, open: usize) {
        let ui = self.challenges[open].ui.clone();
        match self.app.emulator.complete_prebuilt_ui(&ui).await {
            Ok(back) => {
                if let Some(token) = back.split("token=").nth(1) {
                    remember(token);
                }
                match self.app.local(&back) {
                    Some(path) => self.challenges[open].back = Some(path),
                    None => self.violation(format!("the UI sent the browser off the app: {back}")),
                }
                self.browsers[b].last = None;
                self.browsers[b].next = None;
                self.note(format!(
                    "[{}] completes the pre-built UI",
                    self.browsers[b].user
                ));
            }
            Err(err) => self.violation(format!("the pre-built UI: {err}")),
        }
    }

    /// One random step for one browser, among those that make sense where it is.
    async fn step(&mut self) {
        let b = if self.rng.u8(0..10) < 7 { 0 } else { 1 };
        self.coverage.steps += 1;
        if !self.browsers[b].signed_in {
            // Mostly sign in again; sometimes act with no session (a 401).
            if self.rng.u8(0..4) != 0 {
                return self.sign_in(b).await;
            }
        }
        let open = self.browsers[b].open;
        let stage = open.map(|c| {
            let c = &self.challenges[c];
            (c.back.is_some(), c.returned())
        });
        use Step::*;
        let mut choices: Vec<Step> = Vec::new();
        // Weights: the flow's own next step more often than any one disturbance.
        match stage {
            None => choices.extend([ChallengedRequest; 6]),
            Some((false, _)) => choices.extend([CompleteUi; 6]),
            Some((true, false)) => choices.extend([ReturnFromUi; 6]),
            Some((true, true)) => choices.extend([Follow303, Follow303, Follow303]),
        }
        if stage.is_some_and(|(_, returned)| returned) {
            choices.extend([ResumePagePosts; 3]);
        }
        choices.extend([Refresh, Refresh, SecondTab, SecondTab]);
        choices.extend([Back; 5]);
        choices.extend([Plant, Plant, OtherUser, OtherUser]);
        choices.extend([DropCookie, DropCookie, SignOut, SignOut]);
        match choices[self.rng.usize(..choices.len())] {
            ChallengedRequest => self.challenged_request(b).await,
            CompleteUi => self.complete(b, open.unwrap()).await,
            ReturnFromUi => {
                let back = self.challenges[open.unwrap()].back.clone().unwrap();
                self.send(b, Request::get(&back), "return from the UI")
                    .await;
            }
            Follow303 => {
                let next = self.browsers[b]
                    .next
                    .clone()
                    .or_else(|| self.challenges[open.unwrap()].clean.clone())
                    .unwrap();
                self.send(b, Request::get(&next), "follow the 303").await;
            }
            ResumePagePosts => match self.browsers[b]
                .forms
                .iter()
                .rev()
                .find(|(c, _, _)| *c == open)
                .cloned()
            {
                Some((_, action, form)) => {
                    self.send(b, Request::post(&action, &form), "resume page posts")
                        .await;
                }
                None => {
                    let clean = self.challenges[open.unwrap()].clean.clone().unwrap();
                    self.send(b, Request::get(&clean), "follow the 303").await;
                }
            },
            Refresh => {
                if let Some(last) = self.browsers[b].last.clone() {
                    self.coverage.refreshes += 1;
                    self.disturbances.insert("refresh");
                    self.send(b, last, "refresh").await;
                }
            }
            SecondTab => {
                if !self.browsers[b].sent.is_empty() {
                    let at = self.rng.usize(..self.browsers[b].sent.len());
                    let again = self.browsers[b].sent[at].clone();
                    self.coverage.second_tabs += 1;
                    self.disturbances.insert("second tab");
                    self.send(b, again, "second tab").await;
                }
            }
            Back => {
                if !self.browsers[b].forms.is_empty() {
                    let at = self.rng.usize(..self.browsers[b].forms.len());
                    let (_, action, form) = self.browsers[b].forms[at].clone();
                    self.coverage.backs += 1;
                    self.disturbances.insert("back");
                    self.send(b, Request::post(&action, &form), "back, re-post")
                        .await;
                }
            }
            Plant => self.plant(b),
            OtherUser => self.other_user(b).await,
            DropCookie => self.drop_cookie(b),
            SignOut => self.sign_out(b).await,
        }
    }

    /// A plain-name resume cookie set by someone else (a sibling subdomain, a plain-http
    /// answer) on the challenged path, older than the real one, so sent before it.
    fn plant(&mut self, b: usize) {
        let path = if self.rng.bool() {
            "/withdraw"
        } else {
            "/payee"
        };
        // The tag a real cookie for that route carries, when this browser has one.
        let tag = self
            .browsers
            .iter()
            .flat_map(|browser| browser.jar.resume_cookies())
            .find_map(|c| c.value.split_once('.').map(|(_, tag)| tag.to_owned()))
            .unwrap_or_else(|| "AAAAAAAAAAAA".to_owned());
        let other = 1 - b;
        let value = match self.rng.u8(0..4) {
            0 => "junk".to_owned(),
            1 => format!("{}.{tag}", random_id(&mut self.rng)),
            // Another user's real resume cookie.
            2 => self.browsers[other]
                .jar
                .resume_cookies()
                .first()
                .map(|c| c.value.clone())
                .unwrap_or_else(|| format!("{}.{tag}", random_id(&mut self.rng))),
            // One of this user's own, spent.
            _ => self
                .challenges
                .iter()
                .filter(|c| c.browser == b && c.runs > 0)
                .find_map(|c| c.resume_id.clone())
                .map(|id| format!("{id}.{tag}"))
                .unwrap_or_else(|| "x.y".to_owned()),
        };
        self.browsers[b].jar.plant(PLAIN_RESUME, &value, path);
        self.coverage.plants += 1;
        self.disturbances.insert("planted cookie");
        self.note(format!(
            "[{}] planted {PLAIN_RESUME}={} (Path={path})",
            self.browsers[b].user,
            redact_cookies(&value)
        ));
    }

    /// Another user's session sends one of this browser's steps with its cookies.
    async fn other_user(&mut self, b: usize) {
        let mut candidates: Vec<Request> = Vec::new();
        for c in self.challenges.iter().filter(|c| c.browser == b) {
            candidates.extend(c.back.as_deref().map(Request::get));
            candidates.extend(c.clean.as_deref().map(Request::get));
        }
        for (_, action, form) in &self.browsers[b].forms {
            candidates.push(Request::post(action, form));
        }
        if candidates.is_empty() {
            return;
        }
        let request = candidates[self.rng.usize(..candidates.len())].clone();
        self.send_as_other_user(b, request).await;
    }

    /// The test drops a cookie from the jar: the session (the browser is signed out
    /// without the server knowing) or the resume cookie.
    fn drop_cookie(&mut self, b: usize) {
        let user = self.browsers[b].user.clone();
        if self.rng.bool() {
            self.browsers[b].jar.drop_named(SESSION);
            self.browsers[b].signed_in = false;
            self.disturbances.insert("session cookie dropped");
            self.note(format!("[{user}] drops the session cookie"));
        } else if !self.browsers[b].jar.resume_cookies().is_empty() {
            for name in [HOST_RESUME, PLAIN_RESUME] {
                self.browsers[b].jar.drop_named(name);
            }
            self.disturbances.insert("resume cookie dropped");
            self.note(format!("[{user}] drops the resume cookie"));
            self.cookie_lost(b);
        }
    }

    // ---- the end ----------------------------------------------------------------------

    /// Follows browser `b`'s open challenge through to its end, as a browser does once
    /// nothing disturbs it; then re-posts the resume forms of the challenges that must not
    /// run, as a last attempt.
    async fn finish(&mut self, b: usize) {
        if !self.browsers[b].signed_in {
            self.sign_in(b).await;
        }
        let mut clean_tried = false;
        let mut retries = 0;
        for _ in 0..8 + MAX_RETRIES {
            let Some(open) = self.browsers[b].open else {
                break;
            };
            if self.challenges[open].back.is_none() {
                self.complete(b, open).await;
                if self.challenges[open].back.is_none() {
                    break;
                }
                continue;
            }
            if let Some(next) = self.browsers[b].next.clone() {
                self.send(b, Request::get(&next), "follow the 303").await;
                continue;
            }
            if !self.challenges[open].returned() {
                let back = self.challenges[open].back.clone().unwrap();
                let answer = self
                    .send(b, Request::get(&back), "return from the UI")
                    .await;
                if !self.challenges[open].returned() {
                    // A 503 with Retry-After (Authsignal slow to answer on a loaded
                    // machine) leaves the challenge to its token: the person comes back,
                    // and the challenge must still run exactly once.
                    if retry_later(&answer) && retries < MAX_RETRIES {
                        retries += 1;
                        continue;
                    }
                    break;
                }
                continue;
            }
            let form = self.browsers[b]
                .forms
                .iter()
                .rev()
                .find(|(c, _, _)| *c == Some(open))
                .cloned();
            let posted = self.browsers[b].last.as_ref().is_some_and(|last| {
                form.as_ref().is_some_and(|(_, action, body)| {
                    last.path == *action && last.form.as_ref() == Some(body)
                })
            });
            match form {
                Some((_, action, body)) if !posted => {
                    self.send(b, Request::post(&action, &body), "resume page posts")
                        .await;
                }
                _ if !clean_tried => {
                    clean_tried = true;
                    let clean = self.challenges[open].clean.clone().unwrap();
                    self.send(b, Request::get(&clean), "follow the 303").await;
                }
                _ => break,
            }
        }
        let forms: Vec<(String, String)> = self.browsers[b]
            .forms
            .iter()
            .filter(|(c, _, _)| c.is_some_and(|c| self.challenges[c].fate != Fate::Open))
            .map(|(_, action, form)| (action.clone(), form.clone()))
            .collect();
        for (action, form) in forms {
            self.send(
                b,
                Request::post(&action, &form),
                "back, re-post (at the end)",
            )
            .await;
        }
    }

    fn check_end(&mut self) {
        for index in 0..self.challenges.len() {
            let c = &self.challenges[index];
            let expected = usize::from(c.fate == Fate::Open);
            if c.runs != expected {
                let kind = if c.fate == Fate::Open {
                    "a challenge followed through did not run exactly once"
                } else {
                    "a challenge that must not run ran"
                };
                let what = format!(
                    "{kind}: challenge {index} ({} {} memo {}) is {:?}, came back {}, ran {} \
                     times, not {expected}",
                    c.user,
                    c.target,
                    c.memo,
                    c.fate,
                    c.returned(),
                    c.runs
                );
                self.violation(what);
            }
        }
        for b in 0..2 {
            if !self.browsers[b].jar.resume_cookies().is_empty() {
                let user = self.browsers[b].user.clone();
                self.violation(format!("a browser kept a resume cookie at the end: {user}"));
            }
        }
    }
}

fn cookie_value(jar: &Jar, name: &str) -> Option<String> {
    jar.cookies
        .iter()
        .find(|c| c.name == name && !c.planted)
        .map(|c| c.value.clone())
}

fn memo_of(request: &Request) -> String {
    let text = request.form.clone().unwrap_or_else(|| request.path.clone());
    text.split("memo=")
        .nth(1)
        .map(|rest| rest.split('&').next().unwrap_or_default().to_owned())
        .unwrap_or_default()
}

fn random_id(rng: &mut fastrand::Rng) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    (0..22)
        .map(|_| char::from(ALPHABET[rng.usize(..ALPHABET.len())]))
        .collect()
}

/// A URL without its token's value.
fn redact(url: &str) -> String {
    match url.split_once("token=") {
        Some((before, after)) => {
            let rest = after
                .split_once('&')
                .map_or(String::new(), |(_, rest)| format!("&{rest}"));
            format!("{before}token=…{rest}")
        }
        None => url.to_owned(),
    }
}

/// A `Cookie` header with only the start of each long value (resume ids, sessions).
fn redact_cookies(header: &str) -> String {
    header
        .split("; ")
        .map(|pair| match pair.split_once('=') {
            Some((name, value)) if value.len() > 12 => format!("{name}={}…", &value[..6]),
            _ => pair.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// A failed sequence: its number, transcript, violations and disturbances.
type Failed = (
    u64,
    String,
    Vec<String>,
    std::collections::BTreeSet<&'static str>,
);

/// The seed of sequence `number`: each origin draws its own sequences.
fn seed(https: bool, number: u64) -> u64 {
    SEED.wrapping_add(u64::from(https) << 32)
        .wrapping_add(number)
}

async fn run_sequences(https: bool) {
    let app = App::start(https).await;
    let mut coverage = Coverage::default();
    let mut failed: Vec<Failed> = Vec::new();
    // `BROWSER_SEQUENCE=n` runs sequence `n` alone, to see a failure again.
    let only: Option<u64> = std::env::var("BROWSER_SEQUENCE")
        .ok()
        .and_then(|n| n.parse().ok());
    for number in 0..SEQUENCES {
        if only.is_some_and(|only| only != number) {
            continue;
        }
        let mut sequence = Sequence::new(&app, number, &mut coverage).await;
        let steps = sequence.rng.usize(STEPS);
        for _ in 0..steps {
            sequence.step().await;
        }
        sequence.note("-- every browser follows through".into());
        for b in 0..2 {
            sequence.finish(b).await;
        }
        sequence.check_end();
        let Sequence {
            transcript,
            violations,
            disturbances,
            ..
        } = sequence;
        coverage.sequences += 1;
        if !violations.is_empty() {
            coverage.failures += 1;
            failed.push((number, transcript, violations, disturbances));
        }
    }
    let origin = if https { "https" } else { "http" };
    if let Some((number, transcript, violations, _)) = failed.first() {
        // Which violations, and which disturbances, the failing sequences share.
        let mut kinds: BTreeMap<String, (usize, u64)> = BTreeMap::new();
        let mut taken: BTreeMap<&str, usize> = BTreeMap::new();
        for (number, _, violations, disturbances) in &failed {
            let mut once: Vec<String> = violations
                .iter()
                .map(|violation| violation.split(':').next().unwrap_or_default().to_owned())
                .collect();
            once.sort();
            once.dedup();
            for kind in once {
                kinds.entry(kind).or_insert((0, *number)).0 += 1;
            }
            for disturbance in disturbances {
                *taken.entry(disturbance).or_default() += 1;
            }
        }
        let numbers: Vec<u64> = failed.iter().map(|failed| failed.0).take(40).collect();
        panic!(
            "{origin}: {} of {SEQUENCES} sequences failed (seed of sequence n: {:#x} + n; \
             first ones {numbers:?})\nfailing sequences by violation (count, first): {kinds:#?}\nfailing \
             sequences by disturbance taken: {taken:#?}\nsequence {number}: \
             {violations:#?}\n{transcript}\ncoverage: {coverage:#?}",
            failed.len(),
            seed(https, 0),
        );
    }
    println!("{origin}: {coverage:#?}");
    if only.is_some() {
        return;
    }
    // Both outcomes, and every disturbance, were exercised in earnest.
    let floor = SEQUENCES as usize / 4;
    assert!(coverage.runs >= SEQUENCES as usize, "{coverage:#?}");
    assert!(
        coverage.runs_get >= floor && coverage.runs_post >= floor,
        "{coverage:#?}"
    );
    assert!(coverage.refusals >= floor, "{coverage:#?}");
    for (what, count) in [
        ("resumed with a planted cookie", coverage.runs_with_planted),
        (
            "signed out after the return",
            coverage.signed_out_after_return,
        ),
        (
            "lost the resume cookie after the return",
            coverage.cookie_lost_after_return,
        ),
        ("refreshes", coverage.refreshes),
        ("second tabs", coverage.second_tabs),
        ("backs", coverage.backs),
        ("another user's session", coverage.other_user),
    ] {
        assert!(
            count >= SEQUENCES as usize / 30,
            "{what}: {count}; {coverage:#?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generated_browser_sequences_on_an_http_origin_run_each_completed_challenge_once() {
    run_sequences(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generated_browser_sequences_on_an_https_origin_run_each_completed_challenge_once() {
    run_sequences(true).await;
}
