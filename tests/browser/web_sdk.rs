//! The official Web SDK (`@authsignal/browser`, as `tests/web_sdk/package-lock.json` pins
//! it, unmodified) drives the emulator from the custom UI of `examples/custom_ui.rs`, in
//! headless Chromium over WebDriver:
//!
//! 1. a new visitor's large transfer is challenged; the SDK enrolls and verifies an
//!    authenticator app, and the gate accepts the SDK's token;
//! 2. `launch(url, {mode: "redirect"})` reaches the emulator's pre-built UI, which sends
//!    the browser back to the page with a token the gate accepts;
//! 3. the enrolled visitor cannot add an email with the track token alone; after the app's
//!    code they add an email and a phone (codes from the emulator's outbox);
//! 4. the email and the phone are challenged;
//!
//! and each transfer is made exactly once. Needs Debian's `chromium` and `chromium-driver`
//! (`.ci/browser-deps.sh`) and `npm` (the test runs `npm ci` in `tests/web_sdk/` when the
//! pinned SDK is not installed there). Screenshots go to `target/web-sdk-screenshots/`.

use crate::custom_ui;
use crate::webdriver;

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::webdriver::{ChromeDriver, Session};
use authsignal::types::VerificationMethod;
use authsignal_emulator::EmulatorHandle;
use axum::body::Bytes;
use serde_json::{Value, json};

/// `tests/web_sdk/`: the npm project that pins the SDK.
fn sdk_project() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("web_sdk")
}

/// Skips (with a notice) outside CI when `what` is missing; fails in CI, where a missing
/// tool is a broken setup, so that the test never passes without having run.
fn missing(what: &str) -> bool {
    assert!(
        std::env::var_os("CI").is_none(),
        "CI is set but {what} is missing: run .ci/browser-deps.sh (and have npm) before the tests"
    );
    // Straight to stderr, not `eprintln!`, which the test harness captures.
    let _ = writeln!(std::io::stderr(), "web SDK test skipped: {what} is missing");
    true
}

/// The version of `@authsignal/browser` in `file` (a `package.json` or the lock).
fn pinned_version(file: &Path, key: &[&str]) -> Option<String> {
    let json: Value = serde_json::from_slice(&std::fs::read(file).ok()?).ok()?;
    key.iter()
        .try_fold(&json, |value, key| value.get(key))?
        .as_str()
        .map(str::to_owned)
}

/// The SDK's browser build at the version the lock pins, installed by `npm ci` when
/// `node_modules` lacks it (or holds another version). `None`: skip.
pub(crate) fn web_sdk() -> Option<Bytes> {
    let project = sdk_project();
    let locked = pinned_version(
        &project.join("package-lock.json"),
        &["packages", "node_modules/@authsignal/browser", "version"],
    )
    .expect("tests/web_sdk/package-lock.json pins @authsignal/browser");
    let installed = || {
        pinned_version(
            &project.join("node_modules/@authsignal/browser/package.json"),
            &["version"],
        )
    };
    if installed().as_deref() != Some(locked.as_str()) {
        let ran = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund"])
            .current_dir(&project)
            .status();
        match ran {
            Ok(status) => assert!(status.success(), "npm ci in tests/web_sdk failed: {status}"),
            Err(_) if missing("npm") => return None,
            Err(error) => panic!("npm: {error}"),
        }
    }
    assert_eq!(installed(), Some(locked), "npm ci installed the pinned SDK");
    Some(
        std::fs::read(custom_ui::INSTALLED_WEB_SDK)
            .expect("the SDK's dist/index.min.js")
            .into(),
    )
}

/// `target/web-sdk-screenshots/`, emptied of older screenshots.
fn screenshot_dir() -> PathBuf {
    let target = Path::new(env!("CARGO_TARGET_TMPDIR")).parent().unwrap();
    let dir = target.join("web-sdk-screenshots");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A code of the visitor's app from the next 30-second step, so that no code is typed
/// twice (a service may refuse a code already used). The emulator's clock is pinned.
pub(crate) fn next_app_code(emulator: &EmulatorHandle, user: &str) -> String {
    emulator.advance(Duration::from_secs(30));
    emulator.totp_code(user).expect("the visitor has an app")
}

/// The visitor's newest code in the outbox, by `method`.
fn last_code(emulator: &EmulatorHandle, user: &str, method: &VerificationMethod) -> String {
    emulator
        .outbox()
        .into_iter()
        .rev()
        .find(|m| m.user_id.as_deref() == Some(user) && &m.verification_method == method)
        .map(|m| m.code)
        .unwrap_or_else(|| panic!("no {method} code was sent to {user}"))
}

/// Starts a transfer of `amount`: the gate challenges it and the page shows the methods.
pub(crate) async fn start_transfer(browser: &Session, amount: &str) {
    browser.wait_for_visible("#amount").await.fill(amount).await;
    browser.wait_for("#send").await.click().await;
    browser.wait_for_text("#status", "needs a step-up").await;
    browser.wait_for_visible("#challenge").await;
}

/// Sends the challenged transfer with the SDK's token; the confirmation names `amount`.
pub(crate) async fn finish_transfer(browser: &Session, amount: &str) {
    browser.wait_for_visible("#submit").await.click().await;
    browser
        .wait_for_text("#confirmation", &format!("Sent {amount} to"))
        .await;
}

/// Types `code` into `field` and presses `button`; the page then says it verified with
/// `method`.
async fn verify(browser: &Session, field: &str, button: &str, code: &str, method: &str) {
    browser.wait_for_visible(field).await.fill(code).await;
    browser.wait_for(button).await.click().await;
    browser.wait_for_text("#verified-with", method).await;
}

/// Types the app's next code: the page then says it verified with the app.
async fn verify_with_app(browser: &Session, emulator: &EmulatorHandle, user: &str) {
    let code = next_app_code(emulator, user);
    let app = "the authenticator app";
    verify(browser, "#totp-code", "#totp-verify", &code, app).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_web_sdk_verifies_with_the_emulator_and_the_gate_accepts_its_token() {
    if !webdriver::browser_installed("web SDK test") {
        return;
    }
    let Some(sdk) = web_sdk() else { return };
    let started = Instant::now();
    let shots = screenshot_dir();

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    let (app, emulator) = custom_ui::with_emulator(&origin, Some(sdk)).await;
    emulator.set_time(emulator.now());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let driver = ChromeDriver::start(Path::new(env!("CARGO_TARGET_TMPDIR"))).await;
    let browser = driver.new_session().await;
    browser.goto(&format!("{origin}/")).await;
    let user = browser.wait_for("#user").await.text().await;
    assert!(user.starts_with("visitor-"), "{user}");
    assert!(
        !browser
            .find("#sdk-missing")
            .await
            .unwrap()
            .is_displayed()
            .await,
        "the page loaded the SDK"
    );

    // 1. A new visitor enrolls an authenticator app with the SDK.
    start_transfer(&browser, "2500").await;
    browser.wait_for("#totp-enroll").await.click().await;
    let secret = browser.wait_for_visible("#totp-secret").await.text().await;
    let uri = browser.find("#totp-uri").await.unwrap().text().await;
    assert!(uri.starts_with("otpauth://totp/"), "{uri}");
    assert!(uri.contains(&format!("secret={secret}")), "{uri}");
    browser.screenshot(&shots.join("01-enroll-app.png")).await;
    verify_with_app(&browser, &emulator, &user).await;
    browser.wait_for_text("#status", "now enrolled").await;
    // What the page is about to send: the challenged body and the SDK's token.
    let sent = browser
        .execute_async("arguments[0]([pending.body, proof])", json!([]))
        .await;
    finish_transfer(&browser, "2500").await;
    browser.screenshot(&shots.join("02-sent.png")).await;
    // The same request with the same token again is refused: the handler ran once.
    let replayed = browser
        .execute_async(
            "const [body, token, done] = arguments;
             fetch('/transfer', { method: 'POST', body, headers: {
               'Content-Type': 'application/json', 'X-Authsignal-Token': token } })
               .then((answer) => done(answer.status), (error) => done(String(error)));",
            sent,
        )
        .await;
    assert_eq!(replayed, 403, "a replayed token is refused");

    // 2. `launch` in redirect mode: the pre-built UI, and back with a token.
    start_transfer(&browser, "3000").await;
    browser.wait_for_visible("#launch").await.click().await;
    let ui = format!("{}/ui/challenge?token=", emulator.origin());
    browser
        .wait_for_url("the emulator's pre-built UI", |url| url.starts_with(&ui))
        .await;
    let code = next_app_code(&emulator, &user);
    browser.wait_for("#code").await.fill(&code).await;
    browser.screenshot(&shots.join("03-prebuilt-ui.png")).await;
    browser.wait_for("#verify").await.click().await;
    browser.wait_for_text("#confirmation", "Sent 3000 to").await;
    let back = browser.current_url().await;
    assert_eq!(back, format!("{origin}/transfer"), "the token left the URL");

    // 3. Adding an email needs a proven factor first; then an email and a phone.
    start_transfer(&browser, "4000").await;
    let email = format!("{user}@example.com");
    browser.wait_for_visible("#email").await.fill(&email).await;
    browser.wait_for("#email-enroll").await.click().await;
    browser.wait_for_text("#error", "add:authenticators").await;
    assert!(
        emulator
            .outbox()
            .iter()
            .all(|m| m.user_id.as_deref() != Some(user.as_str())),
        "no code was sent"
    );
    verify_with_app(&browser, &emulator, &user).await;
    browser.wait_for("#email-enroll").await.click().await;
    browser
        .wait_for_text("#status", &format!("A code was sent to {email}"))
        .await;
    let code = last_code(&emulator, &user, &VerificationMethod::EmailOtp);
    verify(&browser, "#email-code", "#email-verify", &code, "email").await;
    let phone = "+64270000001";
    browser.wait_for("#phone").await.fill(phone).await;
    browser.wait_for("#sms-enroll").await.click().await;
    browser
        .wait_for_text("#status", &format!("A code was sent to {phone}"))
        .await;
    let code = last_code(&emulator, &user, &VerificationMethod::Sms);
    verify(&browser, "#sms-code", "#sms-verify", &code, "SMS").await;
    browser.wait_for_text("#status", "now enrolled").await;
    browser
        .screenshot(&shots.join("04-added-email-and-phone.png"))
        .await;
    finish_transfer(&browser, "4000").await;

    // 4. The enrolled email and phone are challenged.
    start_transfer(&browser, "4500").await;
    browser
        .wait_for_visible("#email-challenge")
        .await
        .click()
        .await;
    browser
        .wait_for_text("#status", "A code was sent to your email")
        .await;
    let code = last_code(&emulator, &user, &VerificationMethod::EmailOtp);
    verify(&browser, "#email-code", "#email-verify", &code, "email").await;
    browser.wait_for("#sms-challenge").await.click().await;
    browser
        .wait_for_text("#status", "A code was sent to your phone")
        .await;
    let code = last_code(&emulator, &user, &VerificationMethod::Sms);
    verify(&browser, "#sms-code", "#sms-verify", &code, "SMS").await;
    finish_transfer(&browser, "4500").await;

    // Each transfer made once, each after a step-up.
    browser.wait_for_text("#transfers", "4500").await;
    let mut listed = Vec::new();
    for item in browser.find_all("li.transfer").await {
        listed.push(item.text().await);
    }
    browser.screenshot(&shots.join("05-transfers.png")).await;
    let expected = [
        ("2500", "AUTHENTICATOR_APP"),
        ("3000", "AUTHENTICATOR_APP"),
        ("4000", "SMS"),
        ("4500", "SMS"),
    ];
    assert_eq!(listed.len(), expected.len(), "{listed:?}");
    for (text, (amount, method)) in listed.iter().zip(expected) {
        assert!(
            text.starts_with(amount) && text.contains(&format!("verified with {method}")),
            "{text:?} should be {amount} verified with {method}"
        );
    }

    // The SDK called the client API, across origins (preflights first), and the
    // visitor ends with the three methods.
    let calls = emulator.calls();
    for operation in [
        "clientEnrollTotp",
        "clientVerifyTotp",
        "clientEnrollEmailOtp",
        "clientVerifyEmailOtp",
        "clientChallengeEmailOtp",
        "clientEnrollSms",
        "clientVerifySms",
        "clientChallengeSms",
        "uiChallenge",
        "uiSubmit",
    ] {
        assert!(
            calls.iter().any(|call| call.operation == operation),
            "no {operation} call"
        );
    }
    assert!(
        calls
            .iter()
            .any(|call| call.method == "OPTIONS" && call.path.starts_with("/v1/client/")),
        "the browser sent CORS preflights"
    );
    let methods = emulator
        .client()
        .get_user(&user)
        .await
        .unwrap()
        .enrolled_verification_methods
        .unwrap_or_default();
    for method in [
        VerificationMethod::AuthenticatorApp,
        VerificationMethod::EmailOtp,
        VerificationMethod::Sms,
    ] {
        assert!(methods.contains(&method), "{method} in {methods:?}");
    }

    // The demo helper shows the visitor the codes a person would read on their phone.
    browser.goto(&format!("{origin}/demo/codes")).await;
    let codes = browser.wait_for("body").await.text().await;
    let sms = last_code(&emulator, &user, &VerificationMethod::Sms);
    assert!(
        codes.contains(&user) && codes.contains(&sms) && codes.contains(phone),
        "{codes}"
    );

    browser.quit().await;
    drop(driver);
    emulator.shutdown().await;
    let _ = writeln!(
        std::io::stderr(),
        "web SDK browser test: {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

#[tokio::test]
async fn without_the_sdk_the_page_says_how_to_get_it() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    let (app, emulator) = custom_ui::with_emulator(&origin, None).await;
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let http = reqwest::Client::new();
    let script = http
        .get(format!("{origin}/sdk/authsignal.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(script.status().as_u16(), 404);
    assert!(
        script
            .text()
            .await
            .unwrap()
            .contains("npm ci --prefix tests/web_sdk")
    );
    let page = http
        .get(format!("{origin}/transfer"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("id=\"sdk-missing\""), "{page}");
    assert!(page.contains("npm ci --prefix tests/web_sdk"));
    emulator.shutdown().await;
}
