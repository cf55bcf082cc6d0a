//! A minimal W3C WebDriver client: just the commands the browser tests use, over reqwest
//! and serde_json, and a guard that runs `chromedriver` and stops it (and its browser) on
//! drop, even when the test panics.

// Each browser test uses a different part of this client.
#![allow(dead_code)]

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use reqwest::Method;
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

/// The key of a W3C element reference.
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

/// A running `chromedriver` with its own fresh browser profile directory.
pub struct ChromeDriver {
    child: Child,
    addr: SocketAddr,
    profile: PathBuf,
    /// The sessions opened, closed on drop if the test did not get to `quit`.
    sessions: Mutex<Vec<String>>,
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
        let capabilities = json!({ "capabilities": { "alwaysMatch": {
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
        }}});
        let http = http_client();
        let response = http
            .post(format!("http://{}/session", self.addr))
            .json(&capabilities)
            .send()
            .await
            .expect("chromedriver answers");
        let body: Value = response.json().await.expect("a JSON answer");
        let id = body["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {body}"));
        self.sessions.lock().unwrap().push(id.to_owned());
        Session {
            http,
            base: format!("http://{}/session/{id}", self.addr),
        }
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
    /// For `Drop`, which cannot await: a thread with a runtime of its own.
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

fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap()
}

/// One browser session.
#[derive(Clone)]
pub struct Session {
    http: reqwest::Client,
    /// `http://127.0.0.1:PORT/session/ID`
    base: String,
}

/// An element found in the page.
pub struct Element {
    session: Session,
    id: String,
}

impl Session {
    /// One WebDriver command: its `value`, or the driver's error as text.
    async fn command(&self, method: Method, path: &str, body: Value) -> Result<Value, String> {
        let mut request = self
            .http
            .request(method.clone(), format!("{}{path}", self.base));
        if method == Method::POST {
            request = request.json(&body);
        }
        let response = request
            .send()
            .await
            .map_err(|e| format!("{method} {path}: {e}"))?;
        let status = response.status();
        let mut body: Value = response
            .json()
            .await
            .map_err(|e| format!("{method} {path}: {e}"))?;
        if status.is_success() {
            Ok(body["value"].take())
        } else {
            let error = &body["value"];
            Err(format!(
                "{method} {path}: {status} {}: {}",
                error["error"].as_str().unwrap_or("?"),
                error["message"].as_str().unwrap_or("")
            ))
        }
    }

    async fn get(&self, path: &str) -> Value {
        self.command(Method::GET, path, Value::Null).await.unwrap()
    }

    async fn post(&self, path: &str, body: Value) -> Value {
        self.command(Method::POST, path, body).await.unwrap()
    }

    /// Navigates to `url` and waits for the page to load.
    pub async fn goto(&self, url: &str) {
        self.post("/url", json!({ "url": url })).await;
    }

    pub async fn current_url(&self) -> String {
        self.get("/url")
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// The first element matching the CSS `selector`, if there is one now.
    pub async fn find(&self, selector: &str) -> Result<Element, String> {
        let body = json!({ "using": "css selector", "value": selector });
        let reference = self.command(Method::POST, "/element", body).await?;
        Ok(self.element(&reference))
    }

    /// Every element matching the CSS `selector` now.
    pub async fn find_all(&self, selector: &str) -> Vec<Element> {
        let body = json!({ "using": "css selector", "value": selector });
        let references = self.post("/elements", body).await;
        references
            .as_array()
            .unwrap()
            .iter()
            .map(|reference| self.element(reference))
            .collect()
    }

    fn element(&self, reference: &Value) -> Element {
        Element {
            session: self.clone(),
            id: reference[ELEMENT_KEY].as_str().unwrap().to_owned(),
        }
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

    /// Runs `script` in the page as the body of a function with `args`; its return value.
    pub async fn execute(&self, script: &str, args: Value) -> Value {
        self.post("/execute/sync", json!({ "script": script, "args": args }))
            .await
    }

    /// The browser's Back button; returns once the page it goes to has loaded.
    pub async fn back(&self) {
        self.post("/back", json!({})).await;
    }

    /// The browser's Forward button; returns once the page it goes to has loaded.
    pub async fn forward(&self) {
        self.post("/forward", json!({})).await;
    }

    /// Reloads the page; returns once it has loaded again.
    pub async fn refresh(&self) {
        self.post("/refresh", json!({})).await;
    }

    /// Runs `script` in the page as the body of an async function with `args`; its
    /// last argument is the callback that ends it with a value (W3C "execute async").
    pub async fn execute_async(&self, script: &str, args: Value) -> Value {
        self.post("/execute/async", json!({ "script": script, "args": args }))
            .await
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
        self.post(
            "/goog/cdp/execute",
            json!({ "cmd": "Emulation.setDeviceMetricsOverride", "params": params }),
        )
        .await;
    }

    /// Saves a PNG of the viewport to `path`.
    pub async fn screenshot(&self, path: &Path) {
        let encoded = self.get("/screenshot").await;
        let png = base64::engine::general_purpose::STANDARD
            .decode(encoded.as_str().unwrap())
            .expect("the screenshot is base64");
        assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
        std::fs::write(path, png).unwrap();
    }

    /// WebDriver "Add Virtual Authenticator" (W3C WebAuthn §11.3): `options` is the JSON
    /// object of the spec (protocol, transport, hasResidentKey, hasUserVerification,
    /// isUserVerified, ...). Returns the authenticator's id.
    pub async fn add_virtual_authenticator(&self, options: serde_json::Value) -> String {
        let id = self.post("/webauthn/authenticator", options).await;
        id.as_str()
            .unwrap_or_else(|| panic!("no authenticator id: {id}"))
            .to_owned()
    }

    /// "Remove Virtual Authenticator".
    pub async fn remove_virtual_authenticator(&self, authenticator_id: &str) {
        let path = format!("/webauthn/authenticator/{authenticator_id}");
        self.command(Method::DELETE, &path, Value::Null)
            .await
            .unwrap();
    }

    /// "Get Credentials": the authenticator's credentials as the spec's JSON objects.
    pub async fn virtual_credentials(&self, authenticator_id: &str) -> Vec<serde_json::Value> {
        let path = format!("/webauthn/authenticator/{authenticator_id}/credentials");
        match self.get(&path).await {
            Value::Array(credentials) => credentials,
            other => panic!("credentials are a list: {other}"),
        }
    }

    /// The handles of the session's windows ("Get Window Handles").
    pub async fn window_handles(&self) -> Vec<String> {
        let handles = self.get("/window/handles").await;
        handles
            .as_array()
            .unwrap_or_else(|| panic!("window handles are a list: {handles}"))
            .iter()
            .map(|handle| handle.as_str().unwrap().to_owned())
            .collect()
    }

    /// "Get Window Handle": the current window.
    pub async fn window_handle(&self) -> String {
        self.get("/window").await.as_str().unwrap().to_owned()
    }

    /// "Switch To Window".
    pub async fn switch_to_window(&self, handle: &str) {
        self.post("/window", json!({ "handle": handle })).await;
    }

    /// Ends the session and closes the browser.
    pub async fn quit(self) {
        self.command(Method::DELETE, "", Value::Null).await.unwrap();
    }
}

impl Element {
    fn path(&self, command: &str) -> String {
        format!("/element/{}/{command}", self.id)
    }

    /// Replaces the field's value with `text`.
    pub async fn fill(&self, text: &str) {
        self.session.post(&self.path("clear"), json!({})).await;
        self.session
            .post(&self.path("value"), json!({ "text": text }))
            .await;
    }

    pub async fn click(&self) {
        self.session.post(&self.path("click"), json!({})).await;
    }

    /// Whether the element is rendered (WebDriver's "displayed").
    pub async fn is_displayed(&self) -> bool {
        let path = self.path("displayed");
        self.session
            .command(Method::GET, &path, Value::Null)
            .await
            .is_ok_and(|shown| shown == true)
    }

    /// The rendered text.
    pub async fn text(&self) -> String {
        self.try_text().await.unwrap()
    }

    async fn try_text(&self) -> Result<String, String> {
        let path = self.path("text");
        let text = self
            .session
            .command(Method::GET, &path, Value::Null)
            .await?;
        Ok(text.as_str().unwrap_or_default().to_owned())
    }
}
