//! The official Web SDK (`@authsignal/browser`, as `tests/web_sdk/` pins it, unmodified)
//! drives the emulator's WhatsApp, email magic link and push routes from the custom UI
//! of `examples/custom_ui.rs`, in headless Chromium, with the emulator as the visitor's
//! phone and inbox:
//!
//! 1. `whatsapp.challenge()` and `whatsapp.verify({code})` (a wrong code first): the gate
//!    accepts the SDK's token as a WhatsApp step-up;
//! 2. `emailML.enroll({email})` with the token of that verification, the link
//!    followed, `checkVerificationStatus()` (which polls `finalize`) resolves;
//! 3. `emailML.challenge()` on a later transfer, the same way;
//! 4. `push.challenge({action})`, `push.verify` waiting, approved on the phone, verified;
//!    a denied push consumed and not verified;
//!
//! and each transfer is made once, validated with its own method. The SDK runs in the
//! page the example serves: the test calls it with `execute_async`, through a second
//! `authsignal.Authsignal` that shares the page's token (the SDK keeps one token per page).

use crate::custom_ui;
use crate::web_sdk::{finish_transfer, start_transfer, web_sdk};
use crate::webdriver::{self, ChromeDriver, Session};

use std::path::Path;

use authsignal::types::{EnrollVerifiedAuthenticatorRequest, VerificationMethod};
use authsignal_emulator::EmulatorHandle;
use serde_json::{Value, json};

/// Runs `call`, an expression of the SDK instance `sdk` and the argument `arg`, in the
/// page; answers what its promise resolved to (`{data}` or `{error, errorCode}`, as the
/// SDK answers), or `{exception}`.
async fn sdk(browser: &Session, call: &str, arg: Value) -> Value {
    let script = format!(
        "const [arg, done] = arguments;
         const sdk = new authsignal.Authsignal({{ tenantId: config.tenantId, baseUrl: config.baseUrl }});
         Promise.resolve().then(() => {call}).then(done, (error) => done({{ exception: String(error) }}));"
    );
    browser.execute_async(&script, json!([arg])).await
}

/// Hands the page the SDK's new token, as its own buttons do after a verification: the
/// page then offers to send the challenged transfer with it.
async fn prove(browser: &Session, token: &Value) {
    assert!(token.is_string(), "a token: {token}");
    browser
        .execute_async(
            "proof = arguments[0]; $('verified').hidden = false; arguments[1](true);",
            json!([token]),
        )
        .await;
}

/// The visitor's newest message of `method` in the outbox.
fn last_sent(
    emulator: &EmulatorHandle,
    user: &str,
    method: &VerificationMethod,
) -> authsignal_emulator::OutboxMessage {
    emulator
        .outbox()
        .into_iter()
        .rev()
        .find(|m| m.user_id.as_deref() == Some(user) && &m.verification_method == method)
        .unwrap_or_else(|| panic!("nothing sent to {user} by {method}"))
}

/// The user follows the newest magic link in their inbox (as their mail client would,
/// outside the page), while the page's SDK polls `finalize`; answers what the SDK's
/// `checkVerificationStatus()` resolved to.
async fn follow_link_while_polling(
    browser: &Session,
    emulator: &EmulatorHandle,
    user: &str,
) -> Value {
    browser
        .execute_async(
            "const done = arguments[0];
             const sdk = new authsignal.Authsignal({ tenantId: config.tenantId, baseUrl: config.baseUrl });
             window.linkStatus = sdk.emailML.checkVerificationStatus();
             done(true);",
            json!([]),
        )
        .await;
    let link = last_sent(emulator, user, &VerificationMethod::EmailMagicLink)
        .link
        .expect("a magic link");
    let followed = reqwest::get(&link).await.unwrap();
    assert_eq!(followed.status(), 200, "the link opens once");
    browser
        .execute_async("window.linkStatus.then(arguments[0]);", json!([]))
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_web_sdks_whatsapp_magic_link_and_push_calls_step_up_a_transfer() {
    if !webdriver::browser_installed("web SDK channels test") {
        return;
    }
    let Some(script) = web_sdk() else { return };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    let (app, emulator) = custom_ui::with_emulator(&origin, Some(script)).await;
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let driver = ChromeDriver::start(Path::new(env!("CARGO_TARGET_TMPDIR"))).await;
    let browser = driver.new_session().await;
    browser.goto(&format!("{origin}/")).await;
    let user = browser.wait_for("#user").await.text().await;
    let phone = "+64270000042";
    emulator
        .client()
        .enroll_verified_authenticator(
            &user,
            &EnrollVerifiedAuthenticatorRequest {
                phone_number: Some(phone.into()),
                ..EnrollVerifiedAuthenticatorRequest::new(VerificationMethod::Whatsapp)
            },
        )
        .await
        .unwrap();

    // 1. WhatsApp: a wrong code, then the one "sent" to the phone.
    start_transfer(&browser, "2500").await;
    let sent = sdk(&browser, "sdk.whatsapp.challenge()", json!(null)).await;
    assert!(sent["data"]["challengeId"].is_string(), "{sent}");
    let code = last_sent(&emulator, &user, &VerificationMethod::Whatsapp).code;
    assert_eq!(
        last_sent(&emulator, &user, &VerificationMethod::Whatsapp).to,
        phone
    );
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let refused = sdk(&browser, "sdk.whatsapp.verify({ code: arg })", json!(wrong)).await;
    assert_eq!(refused["data"]["isVerified"], false, "{refused}");
    assert_eq!(refused["data"]["failureReason"], "CODE_INVALID_OR_EXPIRED");
    let verified = sdk(&browser, "sdk.whatsapp.verify({ code: arg })", json!(code)).await;
    assert_eq!(verified["data"]["isVerified"], true, "{verified}");
    prove(&browser, &verified["data"]["token"]).await;
    finish_transfer(&browser, "2500").await;

    // 2. Proven with WhatsApp, the visitor adds an email magic link (the SDK's token is
    //    now the verification's, which may add authenticators).
    start_transfer(&browser, "3000").await;
    sdk(&browser, "sdk.whatsapp.challenge()", json!(null)).await;
    let code = last_sent(&emulator, &user, &VerificationMethod::Whatsapp).code;
    let verified = sdk(&browser, "sdk.whatsapp.verify({ code: arg })", json!(code)).await;
    assert_eq!(verified["data"]["isVerified"], true, "{verified}");
    let email = format!("{user}@example.com");
    let enrolled = sdk(&browser, "sdk.emailML.enroll({ email: arg })", json!(email)).await;
    assert!(
        enrolled["data"]["userAuthenticatorId"].is_string(),
        "{enrolled}"
    );
    let finalized = follow_link_while_polling(&browser, &emulator, &user).await;
    assert_eq!(finalized["data"]["isVerified"], true, "{finalized}");
    assert_eq!(
        finalized["data"]["userAuthenticator"]["verificationMethod"],
        "EMAIL_MAGIC_LINK"
    );
    prove(&browser, &finalized["data"]["token"]).await;
    finish_transfer(&browser, "3000").await;

    // 3. The enrolled inbox is challenged.
    start_transfer(&browser, "3500").await;
    let sent = sdk(&browser, "sdk.emailML.challenge()", json!(null)).await;
    assert!(sent["data"]["challengeId"].is_string(), "{sent}");
    let finalized = follow_link_while_polling(&browser, &emulator, &user).await;
    assert_eq!(finalized["data"]["isVerified"], true, "{finalized}");
    prove(&browser, &finalized["data"]["token"]).await;
    finish_transfer(&browser, "3500").await;

    // 4. Push: the phone approves; another push it denies.
    emulator.enroll_push(&user);
    start_transfer(&browser, "4000").await;
    let sent = sdk(
        &browser,
        "sdk.push.challenge({ action: arg })",
        json!("transfer"),
    )
    .await;
    let challenge_id = sent["data"]["challengeId"]
        .as_str()
        .unwrap_or_else(|| panic!("{sent}"))
        .to_owned();
    let verify = "sdk.push.verify({ challengeId: arg })";
    let waiting = sdk(&browser, verify, json!(challenge_id)).await;
    assert_eq!(
        waiting["data"],
        json!({"isVerified": false, "isConsumed": false})
    );
    assert!(emulator.answer_push(&challenge_id, true));
    let approved = sdk(&browser, verify, json!(challenge_id)).await;
    assert_eq!(approved["data"]["isVerified"], true, "{approved}");
    assert_eq!(approved["data"]["isConsumed"], true);
    prove(&browser, &approved["data"]["token"]).await;
    finish_transfer(&browser, "4000").await;

    start_transfer(&browser, "4500").await;
    let sent = sdk(
        &browser,
        "sdk.push.challenge({ action: arg })",
        json!("transfer"),
    )
    .await;
    let denied_id = sent["data"]["challengeId"].as_str().unwrap().to_owned();
    assert!(emulator.answer_push(&denied_id, false));
    let denied = sdk(&browser, verify, json!(denied_id)).await;
    assert_eq!(
        denied["data"],
        json!({"isVerified": false, "isConsumed": true})
    );

    // Each transfer made once, each validated with its own method.
    browser.wait_for_text("#transfers", "4000").await;
    let mut listed = Vec::new();
    for item in browser.find_all("li.transfer").await {
        listed.push(item.text().await);
    }
    let expected = [
        ("2500", "WHATSAPP"),
        ("3000", "EMAIL_MAGIC_LINK"),
        ("3500", "EMAIL_MAGIC_LINK"),
        ("4000", "PUSH"),
    ];
    assert_eq!(listed.len(), expected.len(), "{listed:?}");
    for (text, (amount, method)) in listed.iter().zip(expected) {
        assert!(
            text.starts_with(amount) && text.contains(&format!("verified with {method}")),
            "{text:?} should be {amount} verified with {method}"
        );
    }
    let calls = emulator.calls();
    for operation in [
        "clientChallengeWhatsapp",
        "clientVerifyWhatsapp",
        "clientEnrollEmailMagicLink",
        "clientChallengeEmailMagicLink",
        "clientFinalizeEmailMagicLink",
        "clientChallengePush",
        "clientVerifyPush",
        "uiMagicLink",
    ] {
        assert!(
            calls.iter().any(|call| call.operation == operation),
            "no {operation} call"
        );
    }

    browser.quit().await;
    drop(driver);
    emulator.shutdown().await;
}
