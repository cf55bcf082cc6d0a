//! Passkeys with the official Web SDK (`@authsignal/browser` as `tests/web_sdk` pins it,
//! unmodified) on the custom-UI example, in headless Chromium with a WebDriver virtual
//! authenticator (CTAP2, internal, resident keys, user verification), against the
//! emulator as relying party (RP ID `localhost`, the example's origin only):
//!
//! 1. a new visitor signs up with a passkey (`passkey.signUp` with the gate's token);
//! 2. a large transfer is stepped up with it (`passkey.signIn({token})`) and made once,
//!    and the visitor signs in without a token (`passkey.signIn({action})`);
//!
//! and each of these is refused, with nothing transferred:
//!
//! 3. the assertion of step 2, captured in the page and posted again (with its token, and
//!    with a new transfer's);
//! 4. the same page served from an origin the emulator does not allow;
//! 5. the visitor's passkey answering another visitor's step-up;
//! 6. a step-up after the virtual authenticator is removed (the SDK's call fails).
//!
//! A security key (a USB virtual authenticator, no resident key, no user verification)
//! is enrolled and steps up a transfer through the SDK's `securityKey.enroll()` and
//! `securityKey.verify()`.

use std::path::Path;
use std::time::Duration;

use authsignal::types::{UserActionState, ValidateChallengeRequest, VerificationMethod};
use authsignal_emulator::{EmulatorHandle, RelyingPartySettings};
use serde_json::{Value, json};

use crate::custom_ui;
use crate::web_sdk::{finish_transfer, start_transfer, web_sdk};
use crate::webdriver::{self, ChromeDriver, Session};

/// Keeps, in the page, what the SDK posts to `verify/passkey` (`window.capturedVerify`:
/// its Authorization header and body), and, when `window.allowAnyCredential` is set,
/// empties the `allowCredentials` the emulator answers, so that the authenticator picks
/// whatever passkey it holds: what a tampered page or proxy could do.
const INSTRUMENT_FETCH: &str = r#"
const original = window.fetch.bind(window);
window.fetch = async (url, init) => {
  const path = String(url);
  if (path.endsWith("/client/verify/passkey")) {
    window.capturedVerify = { authorization: init.headers.Authorization, body: init.body };
  }
  const answer = await original(url, init);
  if (window.allowAnyCredential && path.endsWith("/passkey/authentication-options")) {
    const body = await answer.json();
    if (body.options) body.options.allowCredentials = [];
    return new Response(JSON.stringify(body), { status: answer.status, headers: answer.headers });
  }
  return answer;
};
"#;

/// Posts `body` to the emulator's `verify/passkey` from the page with `authorization`;
/// answers `[status, errorCode]`.
const POST_VERIFY: &str = r#"
const [url, authorization, body, done] = arguments;
fetch(url, { method: "POST", headers: { "Content-Type": "application/json", Authorization: authorization }, body })
  .then(async (answer) => done([answer.status, (await answer.json()).errorCode]), (error) => done([0, String(error)]));
"#;

/// Opens `url` and instruments the page's `fetch`.
async fn open(browser: &Session, url: &str) {
    browser.goto(url).await;
    browser.wait_for("#user").await;
    browser.execute(INSTRUMENT_FETCH, json!([])).await;
}

/// Presses "Use my passkey" and waits for the page's error, which must say `reason`.
async fn sign_in_refused(browser: &Session, reason: &str) {
    browser.wait_for("#passkey-signin").await.click().await;
    let error = browser.wait_for_text("#error", reason).await;
    assert!(
        !browser
            .find("#verified")
            .await
            .unwrap()
            .is_displayed()
            .await,
        "{error}"
    );
}

async fn validated_state(emulator: &EmulatorHandle, token: &str) -> Option<UserActionState> {
    emulator
        .client()
        .validate_challenge(&ValidateChallengeRequest {
            token: token.into(),
            user_id: None,
            action: None,
        })
        .await
        .expect("validate answers")
        .state
}

/// The page's transfers: their texts.
async fn transfers(browser: &Session) -> Vec<String> {
    let mut listed = Vec::new();
    for item in browser.find_all("li.transfer").await {
        listed.push(item.text().await);
    }
    listed
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_web_sdk_signs_up_and_steps_up_with_a_passkey_and_every_forgery_is_refused() {
    if !webdriver::browser_installed("passkey test") {
        return;
    }
    let Some(sdk) = web_sdk() else { return };

    // The app on two ports of `localhost`: the emulator allows the first origin only.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let other_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://localhost:{}", listener.local_addr().unwrap().port());
    let other_origin = format!(
        "http://localhost:{}",
        other_listener.local_addr().unwrap().port()
    );
    let (app, emulator) = custom_ui::with_emulator_for(
        &origin,
        Some(sdk),
        // A short timeout: without an authenticator the browser waits that long (step 6).
        RelyingPartySettings::new("localhost")
            .origin(&origin)
            .timeout(Duration::from_secs(10)),
    )
    .await;
    let other_app = app.clone();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    tokio::spawn(async move { axum::serve(other_listener, other_app).await.unwrap() });
    let verify_url = format!("{}/client/verify/passkey", emulator.api_url());

    let driver = ChromeDriver::start(Path::new(env!("CARGO_TARGET_TMPDIR"))).await;
    let browser = driver.new_session().await;
    open(&browser, &format!("{origin}/transfer")).await;
    let authenticator = browser
        .add_virtual_authenticator(webdriver::platform_authenticator())
        .await;
    let user = browser.wait_for("#user").await.text().await;

    // 1. Sign-up: the gate's token lets the new visitor register a passkey.
    start_transfer(&browser, "2500").await;
    browser.wait_for("#passkey-signup").await.click().await;
    browser.wait_for_text("#status", "now enrolled").await;
    let credentials = browser.virtual_credentials(&authenticator).await;
    assert_eq!(credentials.len(), 1, "{credentials:?}");
    assert_eq!(credentials[0]["rpId"], "localhost");
    assert_eq!(credentials[0]["isResidentCredential"], true);
    let enrolled = emulator.client().get_authenticators(&user).await.unwrap();
    assert_eq!(enrolled.len(), 1);
    assert_eq!(
        enrolled[0].verification_method,
        Some(VerificationMethod::Passkey)
    );

    // 2. Step-up with the passkey on a new transfer, which is made once.
    start_transfer(&browser, "3000").await;
    browser.wait_for("#passkey-signin").await.click().await;
    browser.wait_for_text("#verified-with", "a passkey").await;
    finish_transfer(&browser, "3000").await;
    let captured = browser
        .execute("return window.capturedVerify", json!([]))
        .await;
    assert!(captured["body"].is_string(), "{captured}");

    // 3. The captured assertion again: refused with its own token and with a new one.
    let replayed = browser
        .execute_async(
            POST_VERIFY,
            json!([verify_url, captured["authorization"], captured["body"]]),
        )
        .await;
    assert_eq!(replayed, json!([400, "invalid_credential"]));
    start_transfer(&browser, "3100").await;
    let fresh = browser.execute("return challengeToken", json!([])).await;
    let fresh = fresh.as_str().expect("the page holds the gate's token");
    let replayed = browser
        .execute_async(
            POST_VERIFY,
            json!([verify_url, format!("Bearer {fresh}"), captured["body"]]),
        )
        .await;
    assert_eq!(replayed, json!([400, "invalid_credential"]));
    assert_eq!(
        validated_state(&emulator, fresh).await,
        Some(UserActionState::ChallengeRequired)
    );

    // A sign-in without a token (`passkey.signIn({action})`, Basic tenant auth): the
    // passkey names the visitor.
    let signed_in = browser
        .execute_async(
            "const done = arguments[0];
             const config = JSON.parse(document.getElementById('config').textContent);
             new authsignal.Authsignal(config).passkey.signIn({ action: 'signIn' })
               .then((result) => done(result), (error) => done({ exception: String(error) }));",
            json!([]),
        )
        .await;
    assert_eq!(signed_in["data"]["isVerified"], true, "{signed_in}");
    assert_eq!(signed_in["data"]["userId"], user.as_str(), "{signed_in}");

    // 4. The same page from an origin the emulator does not allow (the browser allows
    // RP ID `localhost` there): the assertion is refused.
    open(&browser, &format!("{other_origin}/transfer")).await;
    assert_eq!(browser.wait_for("#user").await.text().await, user);
    start_transfer(&browser, "5000").await;
    sign_in_refused(&browser, "origin is not allowed").await;

    // 5. Another visitor (a second browser, with a passkey of their own) is challenged;
    // the first visitor's passkey answers their step-up: refused.
    let other_driver = ChromeDriver::start(Path::new(env!("CARGO_TARGET_TMPDIR"))).await;
    let other_browser = other_driver.new_session().await;
    open(&other_browser, &format!("{origin}/transfer")).await;
    other_browser
        .add_virtual_authenticator(webdriver::platform_authenticator())
        .await;
    let other_user = other_browser.wait_for("#user").await.text().await;
    assert_ne!(other_user, user);
    start_transfer(&other_browser, "2500").await;
    other_browser
        .wait_for("#passkey-signup")
        .await
        .click()
        .await;
    other_browser.wait_for_text("#status", "now enrolled").await;
    start_transfer(&other_browser, "7000").await;
    let their_token = other_browser
        .execute("return challengeToken", json!([]))
        .await;
    let their_token = their_token.as_str().unwrap().to_owned();
    open(&browser, &format!("{origin}/transfer")).await;
    let answer = browser
        .execute_async(
            "const [config, token, done] = arguments;
             window.allowAnyCredential = true;
             new authsignal.Authsignal(config).passkey.signIn({ token })
               .then((result) => done(result), (error) => done({ exception: String(error) }));",
            json!([
                {"tenantId": emulator.tenant_id(), "baseUrl": emulator.api_url()},
                their_token
            ]),
        )
        .await;
    assert_eq!(answer["errorCode"], "invalid_credential", "{answer}");
    assert!(
        answer["errorDescription"]
            .as_str()
            .is_some_and(|text| text.contains("another user")),
        "{answer}"
    );
    assert_eq!(
        validated_state(&emulator, &their_token).await,
        Some(UserActionState::ChallengeRequired)
    );
    other_browser.quit().await;
    drop(other_driver);

    // 6. Without the authenticator the SDK's call fails, and nothing is verified.
    browser.remove_virtual_authenticator(&authenticator).await;
    start_transfer(&browser, "6000").await;
    let token = browser.execute("return challengeToken", json!([])).await;
    let token = token.as_str().unwrap().to_owned();
    sign_in_refused(&browser, "passkey.signIn() failed").await;
    assert_eq!(
        validated_state(&emulator, &token).await,
        Some(UserActionState::ChallengeRequired)
    );

    // One transfer, the stepped-up one, made once.
    open(&browser, &format!("{origin}/transfer")).await;
    browser.wait_for_text("#transfers", "3000").await;
    let listed = transfers(&browser).await;
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert!(
        listed[0].starts_with("3000") && listed[0].contains("verified with PASSKEY"),
        "{listed:?}"
    );
    browser.quit().await;
    drop(driver);
    emulator.shutdown().await;
}

/// A roaming security key: no resident keys, no user verification, presence only.
fn security_key() -> Value {
    json!({
        "protocol": "ctap2",
        "transport": "usb",
        "hasResidentKey": false,
        "hasUserVerification": false,
        "isUserConsenting": true,
        "automaticPresenceSimulation": true,
    })
}

/// Runs `securityKey.<method>()` of the SDK with `token` set, in the page.
async fn security_key_call(browser: &Session, method: &str, token: &str) -> Value {
    browser
        .execute_async(
            "const [method, token, done] = arguments;
             const config = JSON.parse(document.getElementById('config').textContent);
             const client = new authsignal.Authsignal(config);
             client.setToken(token);
             client.securityKey[method]()
               .then((result) => done(result), (error) => done({ exception: String(error) }));",
            json!([method, token]),
        )
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_web_sdk_enrolls_a_security_key_and_steps_up_with_it() {
    if !webdriver::browser_installed("security key test") {
        return;
    }
    let Some(sdk) = web_sdk() else { return };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://localhost:{}", listener.local_addr().unwrap().port());
    let (app, emulator) = custom_ui::with_emulator(&origin, Some(sdk)).await;
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let driver = ChromeDriver::start(Path::new(env!("CARGO_TARGET_TMPDIR"))).await;
    let browser = driver.new_session().await;
    open(&browser, &format!("{origin}/transfer")).await;
    let key = browser.add_virtual_authenticator(security_key()).await;
    let user = browser.wait_for("#user").await.text().await;

    // Enrolled with the gate's token of a first transfer (not sent).
    start_transfer(&browser, "2500").await;
    let token = browser.execute("return challengeToken", json!([])).await;
    let enrolled = security_key_call(&browser, "enroll", token.as_str().unwrap()).await;
    assert!(enrolled["data"]["token"].is_string(), "{enrolled}");
    let credentials = browser.virtual_credentials(&key).await;
    assert_eq!(credentials.len(), 1, "{credentials:?}");
    assert_eq!(credentials[0]["isResidentCredential"], false);
    let methods = emulator
        .client()
        .get_authenticators(&user)
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.verification_method)
        .collect::<Vec<_>>();
    assert_eq!(methods, [Some(VerificationMethod::SecurityKey)]);

    // A second transfer, stepped up with the key and sent with the SDK's token.
    start_transfer(&browser, "3000").await;
    let token = browser.execute("return challengeToken", json!([])).await;
    let verified = security_key_call(&browser, "verify", token.as_str().unwrap()).await;
    assert_eq!(verified["data"]["isVerified"], true, "{verified}");
    browser
        .execute_async(
            "const [token, finished] = arguments;
             postTransfer(pending.body, token).then(done).then(() => finished(true));",
            json!([verified["data"]["token"]]),
        )
        .await;
    browser.wait_for_text("#confirmation", "Sent 3000 to").await;
    browser.wait_for_text("#transfers", "3000").await;
    let listed = transfers(&browser).await;
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert!(
        listed[0].contains("verified with SECURITY_KEY"),
        "{listed:?}"
    );
    browser.quit().await;
    drop(driver);
    emulator.shutdown().await;
}
