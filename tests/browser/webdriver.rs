//! The browser tests' WebDriver client: the commands they use, on fantoccini (W3C WebDriver
//! over hyper), each bounded in time and panicking on a WebDriver error; the commands
//! fantoccini does not wrap (the virtual authenticator of W3C WebAuthn §11.3, Chromium's
//! DevTools) go through its custom-command mechanism. And a guard that runs `chromedriver`
//! and stops it (and its browser) on drop, even when the test panics.

// Each browser test uses a different part of this client.
#![allow(dead_code)]

use std::future::Future;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use fantoccini::error::CmdError;
use fantoccini::wd::{WebDriverCompatibleCommand, WindowHandle};
use fantoccini::{ClientBuilder, Locator};
use http::Method;
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{Value, json};

/// Debian's `chromium-driver`.
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// Debian's `chromium`.
pub const CHROMIUM: &str = "/usr/bin/chromium";

/// Whether this machine has Chromium and its driver. Without them a developer's `cargo
/// test` still passes, with a notice naming `test` as skipped; with `CI` set (CI installs
/// both first, `.ci/browser-deps.sh`) a missing one is a broken setup, and fails the test
/// rather than letting it pass without having run.
pub fn browser_installed(test: &str) -> bool {
    let missing: Vec<&str> = [CHROMEDRIVER, CHROMIUM]
        .into_iter()
        .filter(|path| !Path::new(path).exists())
        .collect();
    if missing.is_empty() {
        return true;
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "CI is set but {missing:?} is missing: run .ci/browser-deps.sh \
         (apt-get install chromium chromium-driver) before the tests"
    );
    // Straight to stderr, not `eprintln!`, which the test harness captures.
    let _ = std::io::Write::write_fmt(
        &mut std::io::stderr(),
        format_args!(
            "{test} skipped: install chromium and chromium-driver ({missing:?} missing)\n"
        ),
    );
    false
}

/// How long the `wait_*` methods poll before failing (generous: a loaded CI machine is
/// slow, and only a failing test waits this long), and how often they look.
const WAIT: Duration = Duration::from_secs(30);
const POLL: Duration = Duration::from_millis(100);
/// How long one command may take: fantoccini sets no bound of its own, and a driver or
/// browser that hangs would otherwise hang the test run instead of failing it.
const COMMAND: Duration = Duration::from_secs(60);

/// A running `chromedriver` with its own fresh browser profile directory.
pub struct ChromeDriver {
    child: Child,
    addr: SocketAddr,
    profile: PathBuf,
    /// The sessions opened, closed on drop if the test did not get to `quit`.
    sessions: Mutex<Vec<String>>,
}

/// The options of a platform authenticator (a phone's or a laptop's) for
/// [`Session::add_virtual_authenticator`]: CTAP2 over the internal transport, holding
/// passkeys (resident keys) and verifying its user.
pub fn platform_authenticator() -> Value {
    json!({
        "protocol": "ctap2",
        "transport": "internal",
        "hasResidentKey": true,
        "hasUserVerification": true,
        "isUserVerified": true,
    })
}

impl ChromeDriver {
    /// Starts `chromedriver` on a free port and waits until `/status` says it is ready.
    /// `scratch` holds the browser profile (removed on drop) and `chromedriver.log`.
    pub async fn start(scratch: &Path) -> ChromeDriver {
        let unique = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let profile = scratch.join(format!("chromium-profile-{}-{unique}", std::process::id()));
        std::fs::create_dir_all(&profile).unwrap();
        // A port that was free a moment ago: taken by another process in between, the
        // driver exits at once, which `wait_ready` reports.
        let addr = TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .unwrap();
        let child = Command::new(CHROMEDRIVER)
            .arg(format!("--port={}", addr.port()))
            .arg(format!(
                "--log-path={}",
                scratch.join("chromedriver.log").display()
            ))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {CHROMEDRIVER}: {e}"));
        let mut driver = ChromeDriver {
            child,
            addr,
            profile,
            sessions: Mutex::default(),
        };
        driver.wait_ready().await;
        driver
    }

    /// Polls the driver's `/status`, which needs no session, hence plain HTTP rather than
    /// fantoccini (whose client starts with a session).
    async fn wait_ready(&mut self) {
        let http = http_client();
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("chromedriver exited at start ({status}); see chromedriver.log");
            }
            let status = http.get(format!("http://{}/status", self.addr)).send();
            if let Ok(response) = status.await
                && let Ok(body) = response.json::<Value>().await
                && body["value"]["ready"] == true
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "chromedriver not ready within {WAIT:?}"
            );
            tokio::time::sleep(POLL).await;
        }
    }

    /// A new headless Chromium session with the fresh profile.
    pub async fn new_session(&self) -> Session {
        let capabilities = json!({
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                // Debian's Chromium as this machine runs it: no GPU, no sandbox (root),
                // and nothing that reaches for the network on its own (QUIC, updates,
                // sync, background requests), which the closed network would refuse.
                "args": [
                    "--headless",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-quic",
                    "--disable-dev-shm-usage",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                    "--no-first-run",
                    // The https tests' self-signed certificate (tests/browser/tls.rs).
                    "--ignore-certificate-errors",
                    "--window-size=1024,768",
                    format!("--user-data-dir={}", self.profile.display()),
                ],
            },
        });
        let Value::Object(capabilities) = capabilities else {
            unreachable!("a JSON object literal")
        };
        let connect = async {
            ClientBuilder::new(HttpConnector::new())
                .capabilities(capabilities)
                .connect(&format!("http://{}", self.addr))
                .await
        };
        let client = match tokio::time::timeout(COMMAND, connect).await {
            Ok(Ok(client)) => client,
            Ok(Err(error)) => panic!("no session: {error}"),
            Err(_) => panic!("no session within {COMMAND:?}"),
        };
        let id = must("session id", client.session_id()).await;
        let id = id.expect("a connected client has a session");
        self.sessions.lock().unwrap().push(id);
        Session { client }
    }
}

impl Drop for ChromeDriver {
    /// Closes the browsers still open (a test that panicked did not `quit`), asks the
    /// driver to exit, and kills it if it has not within a few seconds.
    fn drop(&mut self) {
        let sessions = std::mem::take(self.sessions.get_mut().unwrap());
        for id in sessions {
            self.blocking_request(Method::DELETE, &format!("/session/{id}"));
        }
        self.blocking_request(Method::GET, "/shutdown");
        let deadline = Instant::now() + Duration::from_secs(5);
        while matches!(self.child.try_wait(), Ok(None)) && Instant::now() < deadline {
            std::thread::sleep(POLL);
        }
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

impl ChromeDriver {
    /// Sends one bodiless request and waits (bounded) for the answer, ignoring errors.
    /// For `Drop`, which cannot await, and may run while a panicking test unwinds out of
    /// its runtime, which then no longer drives fantoccini's connection: a thread with a
    /// runtime of its own.
    fn blocking_request(&self, method: Method, path: &str) {
        let url = format!("http://{}{path}", self.addr);
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            runtime
                .block_on(async { http_client().request(method, url).send().await })
                .ok()
        })
        .join();
    }
}

/// The guard's own HTTP client, for the driver's session-less endpoints.
fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(COMMAND)
        .build()
        .unwrap()
}

/// One browser session.
#[derive(Clone)]
pub struct Session {
    client: fantoccini::Client,
}

/// An element found in the page.
pub struct Element {
    element: fantoccini::elements::Element,
}

/// A command that fantoccini does not wrap: `method` on `path` under the session's URL,
/// with `body` as its JSON parameters.
#[derive(Debug)]
struct SessionCommand {
    method: Method,
    path: String,
    body: Option<Value>,
}

impl WebDriverCompatibleCommand for SessionCommand {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        // Only sent through a connected client, which has a session; should it not, the
        // URL names no session and the driver answers "invalid session id".
        let session = session_id.unwrap_or_default();
        base_url.join(&format!("session/{session}/{}", self.path))
    }

    fn method_and_body(&self, _: &url::Url) -> (Method, Option<String>) {
        (
            self.method.clone(),
            self.body.as_ref().map(Value::to_string),
        )
    }
}

/// Runs one fantoccini command, bounded by `COMMAND`: its result, or `what` failed and why.
async fn bounded<T>(
    what: &str,
    command: impl Future<Output = Result<T, CmdError>>,
) -> Result<T, String> {
    match tokio::time::timeout(COMMAND, command).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(error)) => Err(format!("{what}: {error}")),
        Err(_) => Err(format!("{what}: no answer within {COMMAND:?}")),
    }
}

/// As `bounded`, for the commands whose failure ends the test.
async fn must<T>(what: &str, command: impl Future<Output = Result<T, CmdError>>) -> T {
    bounded(what, command)
        .await
        .unwrap_or_else(|error| panic!("{error}"))
}

impl Session {
    /// A command fantoccini does not wrap; its `value`.
    async fn custom(&self, method: Method, path: &str, body: Option<Value>) -> Value {
        let command = SessionCommand {
            method: method.clone(),
            path: path.to_owned(),
            body,
        };
        let what = format!("{method} {path}");
        must(&what, self.client.issue_cmd(command)).await
    }

    /// Navigates to `url` and waits for the page to load.
    pub async fn goto(&self, url: &str) {
        must("goto", self.client.goto(url)).await;
    }

    pub async fn current_url(&self) -> String {
        must("current url", self.client.current_url()).await.into()
    }

    /// The first element matching the CSS `selector`, if there is one now.
    pub async fn find(&self, selector: &str) -> Result<Element, String> {
        let what = format!("find {selector}");
        let element = bounded(&what, self.client.find(Locator::Css(selector))).await?;
        Ok(Element { element })
    }

    /// Every element matching the CSS `selector` now.
    pub async fn find_all(&self, selector: &str) -> Vec<Element> {
        let what = format!("find all {selector}");
        let elements = must(&what, self.client.find_all(Locator::Css(selector))).await;
        elements
            .into_iter()
            .map(|element| Element { element })
            .collect()
    }

    /// Waits (bounded) for an element matching `selector`.
    pub async fn wait_for(&self, selector: &str) -> Element {
        let deadline = Instant::now() + WAIT;
        loop {
            match self.find(selector).await {
                Ok(element) => return element,
                Err(error) if Instant::now() >= deadline => {
                    panic!(
                        "no {selector} within {WAIT:?} ({error})\n{}",
                        self.describe().await
                    )
                }
                Err(_) => tokio::time::sleep(POLL).await,
            }
        }
    }

    /// Waits (bounded) until the current URL satisfies `ok`; returns it.
    pub async fn wait_for_url(&self, what: &str, ok: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + WAIT;
        loop {
            let url = self.current_url().await;
            if ok(&url) {
                return url;
            }
            if Instant::now() >= deadline {
                panic!("not at {what} within {WAIT:?}\n{}", self.describe().await);
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Waits (bounded) for an element matching `selector` that is displayed (not
    /// `hidden`, not in a collapsed part of the page).
    pub async fn wait_for_visible(&self, selector: &str) -> Element {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Ok(element) = self.find(selector).await
                && element.is_displayed().await
            {
                return element;
            }
            if Instant::now() >= deadline {
                panic!(
                    "no visible {selector} within {WAIT:?}\n{}",
                    self.describe().await
                );
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Waits (bounded) until the rendered text of `selector` contains `expected`; returns
    /// the text. A hidden element renders no text.
    pub async fn wait_for_text(&self, selector: &str, expected: &str) -> String {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Ok(element) = self.find(selector).await
                && let Ok(text) = element.try_text().await
                && text.contains(expected)
            {
                return text;
            }
            if Instant::now() >= deadline {
                panic!(
                    "{selector} did not read {expected:?} within {WAIT:?}\n{}",
                    self.describe().await
                );
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// The current URL and the start of the page's text, for failure messages.
    pub async fn describe(&self) -> String {
        let url = self.current_url().await;
        let text = match self.find("body").await {
            Ok(body) => body.try_text().await.unwrap_or_else(|error| error),
            Err(error) => error,
        };
        let text: String = text.chars().take(1500).collect();
        format!("at {url}, the page reads:\n{text}")
    }

    /// Runs `script` in the page as the body of a function with `args` (a JSON array);
    /// its return value.
    pub async fn execute(&self, script: &str, args: Value) -> Value {
        must("execute", self.client.execute(script, script_args(args))).await
    }

    /// The browser's Back button; returns once the page it goes to has loaded.
    pub async fn back(&self) {
        must("back", self.client.back()).await;
    }

    /// The browser's Forward button; returns once the page it goes to has loaded.
    pub async fn forward(&self) {
        must("forward", self.client.forward()).await;
    }

    /// Reloads the page; returns once it has loaded again.
    pub async fn refresh(&self) {
        must("refresh", self.client.refresh()).await;
    }

    /// Runs `script` in the page as the body of an async function with `args` (a JSON
    /// array); its last argument is the callback that ends it with a value (W3C "execute
    /// async").
    pub async fn execute_async(&self, script: &str, args: Value) -> Value {
        let command = self.client.execute_async(script, script_args(args));
        must("execute async", command).await
    }

    /// Sets the page's viewport to exactly `width` × `height` CSS pixels at one device
    /// pixel each, over Chromium's DevTools protocol: `--window-size` sizes the window,
    /// whose viewport is smaller by a margin that depends on the browser's version.
    pub async fn set_viewport(&self, width: u32, height: u32) {
        let params = json!({
            "width": width,
            "height": height,
            "deviceScaleFactor": 1,
            "mobile": false,
        });
        let body = json!({ "cmd": "Emulation.setDeviceMetricsOverride", "params": params });
        self.custom(Method::POST, "goog/cdp/execute", Some(body))
            .await;
    }

    /// Saves a PNG of the viewport to `path`.
    pub async fn screenshot(&self, path: &Path) {
        let png = must("screenshot", self.client.screenshot()).await;
        assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
        std::fs::write(path, png).unwrap();
    }

    /// WebDriver "Add Virtual Authenticator" (W3C WebAuthn §11.3): `options` is the JSON
    /// object of the spec (protocol, transport, hasResidentKey, hasUserVerification,
    /// isUserVerified, ...). Returns the authenticator's id.
    pub async fn add_virtual_authenticator(&self, options: Value) -> String {
        let id = self
            .custom(Method::POST, "webauthn/authenticator", Some(options))
            .await;
        match id {
            Value::String(id) => id,
            other => panic!("Add Virtual Authenticator answered {other}, not an id"),
        }
    }

    /// "Remove Virtual Authenticator".
    pub async fn remove_virtual_authenticator(&self, authenticator_id: &str) {
        let path = format!("webauthn/authenticator/{authenticator_id}");
        self.custom(Method::DELETE, &path, None).await;
    }

    /// "Get Credentials": the authenticator's credentials as the spec's JSON objects.
    pub async fn virtual_credentials(&self, authenticator_id: &str) -> Vec<Value> {
        let path = format!("webauthn/authenticator/{authenticator_id}/credentials");
        match self.custom(Method::GET, &path, None).await {
            Value::Array(credentials) => credentials,
            other => panic!("Get Credentials answered {other}, not a list"),
        }
    }

    /// The handles of the session's windows ("Get Window Handles").
    pub async fn window_handles(&self) -> Vec<String> {
        let handles = must("window handles", self.client.windows()).await;
        handles.into_iter().map(String::from).collect()
    }

    /// "Get Window Handle": the current window.
    pub async fn window_handle(&self) -> String {
        must("window handle", self.client.window()).await.into()
    }

    /// "Switch To Window".
    pub async fn switch_to_window(&self, handle: &str) {
        let handle = WindowHandle::try_from(handle.to_owned())
            .unwrap_or_else(|error| panic!("window handle {handle:?}: {error}"));
        let what = format!("switch to window {handle:?}");
        must(&what, self.client.switch_to_window(handle)).await;
    }

    /// Ends the session and closes the browser.
    pub async fn quit(self) {
        let Session { client } = self;
        must("quit", client.close()).await;
    }
}

/// A script's arguments: the JSON array the callers pass, as fantoccini takes them.
fn script_args(args: Value) -> Vec<Value> {
    match args {
        Value::Array(args) => args,
        other => panic!("script arguments are a JSON array, not {other}"),
    }
}

impl Element {
    /// Replaces the field's value with `text`.
    pub async fn fill(&self, text: &str) {
        must("clear", self.element.clear()).await;
        must("type", self.element.send_keys(text)).await;
    }

    pub async fn click(&self) {
        must("click", self.element.click()).await;
    }

    /// Whether the element is rendered (WebDriver's "displayed").
    pub async fn is_displayed(&self) -> bool {
        let displayed = self.element.is_displayed();
        bounded("displayed", displayed).await.unwrap_or(false)
    }

    /// The rendered text.
    pub async fn text(&self) -> String {
        self.try_text().await.unwrap()
    }

    async fn try_text(&self) -> Result<String, String> {
        bounded("text", self.element.text()).await
    }
}
