//! A passkey on the emulator's pre-built UI, in headless Chromium with a WebDriver virtual
//! authenticator (CTAP2, internal, resident keys, user verification): a user registers a
//! passkey through the client API, then a step-up on the pre-built UI passes with it (the
//! page's own script, under its CSP) and comes back to the app with a token that validates
//! as `CHALLENGE_SUCCEEDED` by `PASSKEY`. With the authenticator removed (and another
//! without the passkey in its place), the page says the passkey could not be used and
//! nothing is verified. In the Web SDK's popup (`launch(url, {mode: "popup"})`), the
//! passkey in the pre-built UI's iframe resolves `launch` with a token that validates the
//! same way.
//!
//! Pages are opened at `http://localhost:<port>`: browsers refuse an IP address as an RP
//! ID, and the emulator's development relying party is `localhost`.

use crate::launch_modes::{ENTER, serve, type_into_popup};
use crate::web_sdk::web_sdk;
use crate::webdriver;

use std::path::Path;
use std::time::{Duration, Instant};

use crate::webdriver::{ChromeDriver, Session};
use authsignal::types::{
    TrackAttributes, UserActionState, ValidateChallengeRequest, ValidateChallengeResponse,
    VerificationMethod,
};
use authsignal_emulator::{ActionConfig, Emulator, EmulatorHandle};
use axum::body::Bytes;
use axum::http::header;
use axum::response::Html;
use serde_json::json;

/// Registers a passkey for the token's user from the current page, as the Web SDK's
/// `passkey.signUp` does: registration options, `navigator.credentials.create`, the
/// credential. Its answer, or `{exception}`.
const SIGN_UP: &str = r#"
const [api, token, done] = arguments;
const decode = (text) => {
  const base64 = text.replace(/-/g, "+").replace(/_/g, "/");
  const binary = atob(base64 + "=".repeat((4 - (base64.length % 4)) % 4));
  return Uint8Array.from(binary, (c) => c.charCodeAt(0)).buffer;
};
const encode = (buffer) => btoa(String.fromCharCode(...new Uint8Array(buffer)))
  .replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
const call = async (path, body) => (await fetch(api + "/client/" + path, {
  method: "POST",
  headers: { Authorization: "Bearer " + token, "Content-Type": "application/json" },
  body: JSON.stringify(body),
})).json();
(async () => {
  const { challengeId, options } =
    await call("user-authenticators/passkey/registration-options", { username: "jane" });
  const credential = await navigator.credentials.create({ publicKey: {
    ...options,
    challenge: decode(options.challenge),
    user: { ...options.user, id: decode(options.user.id) },
    excludeCredentials: (options.excludeCredentials || []).map((c) => ({ ...c, id: decode(c.id) })),
  } });
  const response = credential.response;
  done(await call("user-authenticators/passkey", { challengeId, registrationCredential: {
    id: credential.id,
    rawId: encode(credential.rawId),
    type: credential.type,
    response: {
      clientDataJSON: encode(response.clientDataJSON),
      attestationObject: encode(response.attestationObject),
      transports: response.getTransports(),
    },
  } }));
})().catch((error) => done({ exception: String(error) }));
"#;

/// `url` (the emulator's, on 127.0.0.1) at `localhost`.
fn at_localhost(url: &str) -> String {
    url.replacen("http://127.0.0.1:", "http://localhost:", 1)
}

/// A `withdraw` step-up for jane, back to `app`: the track `url` at localhost, and its
/// token.
async fn step_up(emulator: &EmulatorHandle, app: &str) -> (String, String) {
    let tracked = emulator
        .client()
        .track(
            "jane",
            "withdraw",
            TrackAttributes {
                redirect_url: Some(format!("{app}/done")),
                ..TrackAttributes::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(tracked.state, UserActionState::ChallengeRequired);
    let token = tracked.token.unwrap().into_string();
    (at_localhost(&tracked.url.unwrap()), token)
}

async fn validate(emulator: &EmulatorHandle, token: &str) -> ValidateChallengeResponse {
    emulator
        .client()
        .validate_challenge(&ValidateChallengeRequest {
            token: token.into(),
            user_id: Some("jane".into()),
            action: Some("withdraw".into()),
        })
        .await
        .unwrap()
}

async fn passkey_count(browser: &Session, authenticator: &str) -> usize {
    browser.virtual_credentials(authenticator).await.len()
}

/// The emulator, the app's origin (at localhost, serving the Web SDK at `/sdk.js` if
/// `sdk`), a browser on the app's page with a virtual authenticator, and jane signed up
/// with a passkey on it.
struct SignedUp {
    emulator: EmulatorHandle,
    app: String,
    driver: ChromeDriver,
    browser: Session,
    authenticator: String,
}

async fn signed_up(sdk: Option<Bytes>) -> SignedUp {
    let emulator = Emulator::builder()
        .action("signUp", ActionConfig::challenge().prompt_enrollment(true))
        .action("withdraw", ActionConfig::challenge())
        .start()
        .await
        .unwrap();
    let page = || async { Html("<!doctype html><title>App</title><p>The app</p>") };
    let mut router = axum::Router::new()
        .route("/", axum::routing::get(page))
        .route("/done", axum::routing::get(page));
    if let Some(sdk) = sdk {
        let serve_sdk = move || async move { ([(header::CONTENT_TYPE, "text/javascript")], sdk) };
        router = router.route("/sdk.js", axum::routing::get(serve_sdk));
    }
    let app = at_localhost(&serve(router).await);
    let api = at_localhost(&emulator.api_url());

    let driver = ChromeDriver::start(Path::new(env!("CARGO_TARGET_TMPDIR"))).await;
    let browser = driver.new_session().await;
    browser.goto(&format!("{app}/")).await;
    let authenticator = browser
        .add_virtual_authenticator(webdriver::platform_authenticator())
        .await;

    // Jane signs up with a passkey (through the client API, from the app's page).
    let sign_up = emulator
        .client()
        .track("jane", "signUp", TrackAttributes::default())
        .await
        .unwrap()
        .token
        .unwrap();
    let added = browser
        .execute_async(SIGN_UP, json!([api, sign_up.as_str()]))
        .await;
    assert_eq!(added["isVerified"], true, "{added}");
    assert_eq!(passkey_count(&browser, &authenticator).await, 1);
    SignedUp {
        emulator,
        app,
        driver,
        browser,
        authenticator,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_passkey_step_up_on_the_prebuilt_ui_validates_as_passkey() {
    if !webdriver::browser_installed("pre-built UI passkey test") {
        return;
    }
    let SignedUp {
        emulator,
        app,
        driver,
        browser,
        authenticator,
    } = signed_up(None).await;

    // The step-up on the pre-built UI: the passkey is offered, and passes.
    let (url, token) = step_up(&emulator, &app).await;
    browser.goto(&url).await;
    browser.wait_for("#passkey").await.click().await;
    let back = browser
        .wait_for_url("the app, with a token", |url| {
            url.starts_with(&format!("{app}/done?token="))
        })
        .await;
    let returned = reqwest::Url::parse(&back)
        .unwrap()
        .query_pairs()
        .find(|(name, _)| name == "token")
        .map(|(_, value)| value.into_owned())
        .unwrap();
    let validation = validate(&emulator, &returned).await;
    assert!(validation.is_valid);
    assert_eq!(validation.state, Some(UserActionState::ChallengeSucceeded));
    assert_eq!(
        validation.verification_method,
        Some(VerificationMethod::Passkey)
    );
    assert!(
        validate(&emulator, &token).await.is_valid,
        "the same action"
    );

    // The authenticator removed (another one, without the passkey, in its place): the
    // page says the passkey could not be used, and nothing is verified.
    browser.remove_virtual_authenticator(&authenticator).await;
    let other = browser
        .add_virtual_authenticator(webdriver::platform_authenticator())
        .await;
    assert_eq!(passkey_count(&browser, &other).await, 0);
    let (url, token) = step_up(&emulator, &app).await;
    browser.goto(&url).await;
    browser.wait_for("#passkey").await.click().await;
    browser
        .wait_for_text("#passkey-error", "could not be used")
        .await;
    assert!(!validate(&emulator, &token).await.is_valid);
    let calls = emulator.calls();
    let count = |operation: &str| calls.iter().filter(|c| c.operation == operation).count();
    assert_eq!(count("uiPasskey"), 1, "the page went on once");
    assert_eq!(
        calls
            .iter()
            .filter(|c| c.path == "/v1/client/verify/passkey")
            .count(),
        1,
        "no assertion was sent without the authenticator"
    );

    browser.quit().await;
    drop(driver);
    emulator.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_passkey_in_the_sdks_popup_resolves_launch_with_a_passkey_token() {
    if !webdriver::browser_installed("pre-built UI passkey test") {
        return;
    }
    let Some(sdk) = web_sdk() else { return };
    let SignedUp {
        emulator,
        app,
        driver,
        browser,
        ..
    } = signed_up(Some(sdk)).await;
    browser
        .execute_async(
            "const script = document.createElement('script');
             script.src = '/sdk.js';
             script.onload = () => arguments[0](true);
             document.head.append(script);",
            json!([]),
        )
        .await;

    // The app launches the pre-built UI in the SDK's popup; the person tabs to the
    // passkey button in it and presses Enter.
    let (url, _) = step_up(&emulator, &app).await;
    let api = at_localhost(&emulator.api_url());
    browser
        .execute(
            "window.launched = null;
             new authsignal.Authsignal({ tenantId: 'emulator', baseUrl: arguments[1] })
               .launch(arguments[0], { mode: 'popup' })
               .then((result) => { window.launched = result; });",
            json!([url, api]),
        )
        .await;
    type_into_popup(&browser, &ENTER.to_string()).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    let launched = loop {
        let launched = browser.execute("return window.launched", json!([])).await;
        if !launched.is_null() {
            break launched;
        }
        if Instant::now() >= deadline {
            let calls: Vec<String> = emulator
                .calls()
                .iter()
                .map(|c| format!("{} {}", c.method, c.path))
                .collect();
            panic!("launch did not resolve; the emulator received {calls:?}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let token = launched["token"]
        .as_str()
        .expect("launch resolved with a token");
    let validation = validate(&emulator, token).await;
    assert!(validation.is_valid);
    assert_eq!(
        validation.verification_method,
        Some(VerificationMethod::Passkey)
    );
    let calls = emulator.calls();
    assert_eq!(
        calls.iter().filter(|c| c.operation == "uiPasskey").count(),
        1
    );

    browser.quit().await;
    drop(driver);
    emulator.shutdown().await;
}
