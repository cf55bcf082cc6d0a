//! Two instances of one app, as a load balancer sees them: two axum servers on two ports,
//! each with its own [`StepUpConfig`] and its own [`RedisStore`] handle (a connection of
//! its own), both on one Redis and one emulator, and both configured with the origin of
//! the round-robin proxy in front of them ([`proxy`]), where the pre-built UI sends
//! browsers back. A test sends each request to the instance it names (`a` or `b`), or
//! through the proxy.
//!
//! Each instance serves:
//! - `POST /withdraw` behind a `withdraw` gate on `POST` (challenged above 1000,
//!   the amount read from the body), whose handler counts its runs, per instance; a `GET`
//!   there is the browser's way back (the resume cookie), which only the gate answers;
//! - `POST /payment` behind a `payment` gate that holds reviews (the test decides what
//!   Authsignal's rules say of it), with the same handler;
//! - `POST /login` (the password is the user id and `-password`), which starts sign-in
//!   step-up, and `GET /login/callback`, which finishes it, with one [`SignIn`] per
//!   instance built with the shared [`COOKIE_KEY`].
//!
//! Users are found in [`USER_HEADER`], the stand-in for the app's own sign-in. Every
//! request a test sends goes through [`Instances::send`], which fails the test on a
//! dropped connection (a panic in the app) or a 5xx other than 503: nothing the tests do
//! may make the gate panic or answer 500.
//!
//! The emulator, the user lookup, the custom UI's TOTP step, the resume page's form and
//! the capture of every log line are the gate suite's (`tests/gate/support.rs`), so that
//! when each test ends its logs (both instances', the emulator's, the Redis client's) are
//! checked for the tenant secret and every token the suite handled.
#![allow(dead_code)]

#[path = "../../gate/support.rs"]
mod gate;
pub mod proxy;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use authsignal_emulator::EmulatorHandle;
use axum::extract::{FromRef, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use axum_authsignal::store::RedisStore;
use axum_authsignal::{SignIn, SignedIn, StepUp, StepUpConfig};
use bytes::Bytes;
use http::request::Parts;
use serde::Deserialize;
use serde_json::{Value, json};

use self::gate::{LogCheck, emulator, pass_totp_at, user_from_header};
// Each test binary uses some of these.
#[allow(unused_imports)]
pub use self::gate::{NAVIGATION_ACCEPT, USER_HEADER, remember, resume_form};
use self::proxy::Proxy;

/// The sign-in cookie key, the same on every instance (32 bytes).
pub const COOKIE_KEY: &[u8; 32] = b"instances: one key on all of us.";

/// One instance of the app.
pub struct Instance {
    pub name: &'static str,
    /// `http://127.0.0.1:<port>`, where this instance is reached without the proxy.
    pub url: String,
    /// How many times this instance's withdrawal handler ran.
    pub runs: Arc<AtomicUsize>,
    pub config: StepUpConfig,
}

impl Instance {
    pub fn runs(&self) -> usize {
        self.runs.load(Ordering::SeqCst)
    }
}

/// Both instances, the emulator and Redis they share, and the proxy in front of them.
pub struct Instances {
    pub emulator: EmulatorHandle,
    pub a: Instance,
    pub b: Instance,
    pub proxy: Proxy,
    /// The prefix of every Redis key the instances write.
    pub prefix: String,
    pub http: reqwest::Client,
    /// Checks the logs when the test ends (unless it is failing already).
    _log_check: LogCheck,
}

#[derive(Clone)]
struct AppState {
    name: &'static str,
    runs: Arc<AtomicUsize>,
    sign_in: SignIn,
}

impl FromRef<AppState> for SignIn {
    fn from_ref(app: &AppState) -> SignIn {
        app.sign_in.clone()
    }
}

/// A prefix no other pair of instances of this process has, so that the tests of one
/// binary share a Redis without sharing keys (nor the per-user bound).
fn fresh_prefix() -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    format!(
        "instances-{}-{}:",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

impl Instances {
    /// Starts the emulator, the proxy and two instances, each with a store of its own on
    /// the Redis at `redis_url` (one prefix for both) with `store_timeout`.
    pub async fn start(redis_url: &str, store_timeout: Duration) -> Instances {
        let emulator = emulator().await;
        let prefix = fresh_prefix();
        let proxy_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let origin = format!("http://{}", proxy_listener.local_addr().unwrap());
        let a = Self::instance("A", &emulator, redis_url, &prefix, &origin, store_timeout).await;
        let b = Self::instance("B", &emulator, redis_url, &prefix, &origin, store_timeout).await;
        let proxy = Proxy::serve(proxy_listener, vec![a.url.clone(), b.url.clone()]);
        Instances {
            emulator,
            a,
            b,
            proxy,
            prefix,
            http: reqwest::Client::builder()
                .no_proxy()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            _log_check: LogCheck,
        }
    }

    async fn instance(
        name: &'static str,
        emulator: &EmulatorHandle,
        redis_url: &str,
        prefix: &str,
        origin: &str,
        store_timeout: Duration,
    ) -> Instance {
        let store = RedisStore::builder(redis_url)
            .prefix(prefix)
            .timeout(store_timeout)
            .build()
            .await
            .expect("the store connects to the test's Redis");
        let config = StepUpConfig::builder(emulator.client())
            .store(Arc::new(store))
            .redirect_origin(origin)
            .user_id(user_from_header)
            .build();
        let sign_in = config
            .sign_in(format!("{origin}/login/callback"))
            .cookie_key(COOKIE_KEY)
            .build()
            .expect("a 32-byte key");
        let runs = Arc::new(AtomicUsize::new(0));
        let app = Router::new()
            .route(
                "/withdraw",
                post(withdraw).layer(
                    config
                        .gate("withdraw")
                        .custom_from_body(["amount"])
                        .methods([http::Method::POST]),
                ),
            )
            .route(
                "/payment",
                post(withdraw).layer(
                    config
                        .gate("payment")
                        .custom_from_body(["amount"])
                        .hold_reviews(),
                ),
            )
            .route("/login", post(password))
            .route("/login/callback", get(callback))
            .with_state(AppState {
                name,
                runs: runs.clone(),
                sign_in,
            });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let service = app.into_make_service_with_connect_info::<SocketAddr>();
        tokio::spawn(async move { axum::serve(listener, service).await.unwrap() });
        Instance {
            name,
            url,
            runs,
            config,
        }
    }

    /// Both instances' handler runs.
    pub fn runs(&self) -> usize {
        self.a.runs() + self.b.runs()
    }

    /// The redirect origin both instances are configured with: the proxy's.
    pub fn origin(&self) -> &str {
        self.proxy.origin()
    }

    /// Sends `request`; fails the test if the app dropped the connection (a panic) or
    /// answered a 5xx other than 503.
    pub async fn send(&self, request: reqwest::RequestBuilder) -> reqwest::Response {
        let response = request
            .send()
            .await
            .unwrap_or_else(|err| panic!("no answer (a panic in the app?): {err}"));
        let status = response.status();
        assert!(
            !status.is_server_error() || status == 503,
            "{status} from {}",
            response.url()
        );
        response
    }

    /// An API client's `POST /withdraw` of `body` at `instance`, with `token` if given.
    pub async fn api_post(
        &self,
        instance: &Instance,
        user: &str,
        body: &Value,
        token: Option<&str>,
    ) -> reqwest::Response {
        let mut request = self
            .http
            .post(format!("{}/withdraw", instance.url))
            .header(USER_HEADER, user)
            .header("accept", "application/json")
            .json(body);
        if let Some(token) = token {
            request = request.header("x-authsignal-token", token);
        }
        self.send(request).await
    }

    /// API leg 1 at `instance`, expected to be challenged: the problem body.
    pub async fn api_challenge(&self, instance: &Instance, user: &str, body: &Value) -> Value {
        let response = self.api_post(instance, user, body, None).await;
        assert_eq!(response.status(), 401, "at {}", instance.name);
        let problem: Value = response.json().await.unwrap();
        if let Some(token) = problem["token"].as_str() {
            remember(token);
        }
        problem
    }

    /// Completes a challenge the way a custom UI does: the TOTP code through the client
    /// API, with the track token as Bearer. Returns the token to send back.
    pub async fn pass_totp(&self, user: &str, track_token: &str) -> String {
        pass_totp_at(&self.emulator, &self.http, user, track_token).await
    }

    /// The person's part on the pre-built UI at `ui`: where it sends the browser back.
    pub async fn complete_ui(&self, ui: &str) -> String {
        let back = self
            .emulator
            .complete_prebuilt_ui(ui)
            .await
            .expect("the pre-built UI accepts the code");
        if let Some(token) = back.split("token=").nth(1) {
            remember(token);
        }
        back
    }

    /// A challenge issued at `instance` and completed: (problem body, token).
    pub async fn api_token(
        &self,
        instance: &Instance,
        user: &str,
        body: &Value,
    ) -> (Value, String) {
        let problem = self.api_challenge(instance, user, body).await;
        let track_token = problem["token"].as_str().expect("the 401 carries a token");
        let token = self.pass_totp(user, track_token).await;
        (problem, token)
    }

    /// A browser's `GET` of `target` at `instance`, with `user` and maybe a cookie.
    /// `target` is a path, or a URL on the instances' origin (a `Location`, the UI's way
    /// back): sent to `instance` whatever the proxy would pick.
    pub async fn browser_get(
        &self,
        instance: &Instance,
        target: &str,
        user: &str,
        cookie: Option<&str>,
    ) -> reqwest::Response {
        let mut request = self.navigation(instance, http::Method::GET, target, user);
        if let Some(cookie) = cookie {
            request = request.header("cookie", cookie);
        }
        self.send(request).await
    }

    /// A browser's form post of `form` to `target` (as for [`browser_get`](Self::browser_get))
    /// at `instance`, with `user`.
    pub async fn browser_post(
        &self,
        instance: &Instance,
        target: &str,
        user: &str,
        form: &str,
    ) -> reqwest::Response {
        self.browser_post_with_cookie(instance, target, user, form, None)
            .await
    }

    /// A browser's form post, as [`browser_post`](Self::browser_post), with a `cookie`.
    pub async fn browser_post_with_cookie(
        &self,
        instance: &Instance,
        target: &str,
        user: &str,
        form: &str,
        cookie: Option<&str>,
    ) -> reqwest::Response {
        let mut request = self
            .navigation(instance, http::Method::POST, target, user)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form.to_owned());
        if let Some(cookie) = cookie {
            request = request.header("cookie", cookie);
        }
        self.send(request).await
    }

    fn navigation(
        &self,
        instance: &Instance,
        method: http::Method,
        target: &str,
        user: &str,
    ) -> reqwest::RequestBuilder {
        let path = target.strip_prefix(self.origin()).unwrap_or(target);
        assert!(
            path.starts_with('/'),
            "{target} is not on {}",
            self.origin()
        );
        self.http
            .request(method, format!("{}{path}", instance.url))
            .header(USER_HEADER, user)
            .header("accept", NAVIGATION_ACCEPT)
            .header("sec-fetch-mode", "navigate")
    }

    /// A sign-in's start at `instance` in a browser, with `user`'s password.
    pub async fn start_sign_in(&self, instance: &Instance, user: &str) -> reqwest::Response {
        let password = format!("{user}-password");
        let request = self
            .http
            .post(format!("{}/login", instance.url))
            .header("accept", NAVIGATION_ACCEPT)
            .header("sec-fetch-mode", "navigate")
            .form(&[("username", user), ("password", &password)]);
        self.send(request).await
    }

    /// The browser back at the sign-in callback `back` (the UI's way back) at `instance`,
    /// with `cookie` if given: the status and the page's text.
    pub async fn finish_sign_in(
        &self,
        instance: &Instance,
        back: &str,
        cookie: Option<&str>,
    ) -> (u16, String) {
        let path = back.strip_prefix(self.origin()).expect("on the origin");
        let mut request = self.http.get(format!("{}{path}", instance.url));
        if let Some(cookie) = cookie {
            request = request.header("cookie", cookie);
        }
        let response = self.send(request).await;
        (response.status().as_u16(), response.text().await.unwrap())
    }

    /// Every key under the instances' prefix on the Redis at `redis_url`, with its time
    /// to live in milliseconds (`PTTL`: -1 is none).
    pub fn keys(&self, redis_url: &str) -> Vec<(String, i64)> {
        let mut admin = redis::Client::open(redis_url)
            .unwrap()
            .get_connection_with_timeout(Duration::from_secs(5))
            .expect("the test connects to its Redis");
        let names: Vec<String> = redis::cmd("KEYS")
            .arg(format!("{}*", self.prefix))
            .query(&mut admin)
            .unwrap();
        names
            .into_iter()
            .map(|name| {
                let ttl: i64 = redis::cmd("PTTL").arg(&name).query(&mut admin).unwrap();
                (name, ttl)
            })
            .filter(|(_, ttl)| *ttl != -2)
            .collect()
    }
}

/// The `Location` of a response.
pub fn location(response: &reqwest::Response) -> String {
    response
        .headers()
        .get("location")
        .expect("a Location")
        .to_str()
        .unwrap()
        .to_owned()
}

/// The `name=value` of a response's `Set-Cookie` named `name`, if any.
pub fn cookie_set(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .map(|value| value.split(';').next().unwrap_or("").to_owned())
        .find(|pair| pair.starts_with(&format!("{name}=")))
}

/// The `Retry-After` of a 503, in seconds; fails the test if it is missing or not one.
pub fn retry_after(response: &reqwest::Response) -> u64 {
    assert_eq!(response.status(), 503, "{}", response.url());
    let after = response
        .headers()
        .get("retry-after")
        .unwrap_or_else(|| panic!("a 503 without Retry-After from {}", response.url()));
    after
        .to_str()
        .unwrap()
        .parse()
        .expect("Retry-After in seconds")
}

/// Runs only once the gate let the request through; says where and for whom.
async fn withdraw(State(app): State<AppState>, step_up: StepUp, body: Bytes) -> Response {
    app.runs.fetch_add(1, Ordering::SeqCst);
    axum::Json(json!({
        "instance": app.name,
        "user": step_up.user_id(),
        "challenged": step_up.was_challenged(),
        "reviewed": step_up.was_reviewed(),
        "body": String::from_utf8_lossy(&body),
    }))
    .into_response()
}

#[derive(Deserialize)]
struct Credentials {
    username: String,
    password: String,
}

async fn password(
    State(app): State<AppState>,
    parts: Parts,
    Form(form): Form<Credentials>,
) -> Response {
    if form.password != format!("{}-password", form.username) {
        return (http::StatusCode::UNAUTHORIZED, "wrong password").into_response();
    }
    match app.sign_in.start(&form.username, &parts).await {
        Ok(proof) => {
            format!("signed in as {} without a challenge", proof.user_id()).into_response()
        }
        Err(challenge_or_refusal) => challenge_or_refusal,
    }
}

async fn callback(State(app): State<AppState>, signed_in: SignedIn) -> Response {
    (
        [signed_in.clear_cookie()],
        format!("signed in as {} at {}", signed_in.user_id(), app.name),
    )
        .into_response()
}
