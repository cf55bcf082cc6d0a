//! The Web SDK's `launch(url, {mode: "popup"})` and `{mode: "window"}` in headless
//! Chromium, on the custom-UI example (`examples/custom_ui.rs`) and the emulator's
//! pre-built UI:
//!
//! 1. in a window: the pre-built UI opens in a window of its own, the person types the
//!    app's code there, the window closes, and `launch` resolves with the token the gate
//!    accepts;
//! 2. in a popup: the same in an iframe of the SDK's dialog on the page;
//!
//! and each transfer is made once. Then what the pre-built UI's script may do: a page on
//! another origin that opens the pre-built UI gets no message from it, and a script the
//! page did not write (without the response's nonce) does not run.

use crate::custom_ui;
use crate::web_sdk::{next_app_code, start_transfer, web_sdk};
use crate::webdriver;

use std::path::Path;
use std::time::{Duration, Instant};

use crate::webdriver::{ChromeDriver, Session};
use authsignal::types::TrackAttributes;
use authsignal_emulator::{ActionConfig, Emulator, EmulatorHandle};
use axum::response::Html;
use serde_json::{Value, json};

/// How long to wait for the browser to open or close a window (only a failing test waits
/// this long).
const WAIT: Duration = Duration::from_secs(30);

/// WebDriver's keys: Tab and Enter.
const TAB: char = '\u{E004}';
pub(crate) const ENTER: char = '\u{E007}';

/// Waits (bounded) until the session's windows satisfy `ok`; returns them.
async fn wait_for_windows(
    browser: &Session,
    what: &str,
    ok: impl Fn(&[String]) -> bool,
) -> Vec<String> {
    let deadline = Instant::now() + WAIT;
    loop {
        let handles = browser.window_handles().await;
        if ok(&handles) {
            return handles;
        }
        assert!(
            Instant::now() < deadline,
            "{what} within {WAIT:?}: {handles:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Types `keys` into the pre-built UI in the SDK's popup, from its first field.
///
/// The pre-built UI is in a cross-origin iframe, out of reach of element commands; a
/// person gets there with the keyboard. Keys go to a focused element, and the SDK's
/// dialog pulls the focus back into itself from anywhere else on the page: a field at the
/// top of the dialog to start from, then Tab moves the focus into the iframe, to its first
/// field (a code, or the passkey button).
pub(crate) async fn type_into_popup(browser: &Session, keys: &str) {
    browser.wait_for_visible("#__authsignal-popup-iframe").await;
    browser
        .execute(
            "const keys = document.createElement('input');
             keys.id = 'keys';
             const content = document.getElementById('__authsignal-popup-content');
             content.insertBefore(keys, content.firstChild);",
            json!([]),
        )
        .await;
    browser
        .wait_for("#keys")
        .await
        .fill(&format!("{TAB}{keys}"))
        .await;
}

/// Serves `router` on a free port of 127.0.0.1; its origin.
pub(crate) async fn serve(router: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    origin
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn popup_and_window_modes_complete_and_each_transfer_is_made_once() {
    if !webdriver::browser_installed("launch modes test") {
        return;
    }
    let Some(sdk) = web_sdk() else { return };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    let (app, emulator) = custom_ui::with_emulator(&origin, Some(sdk)).await;
    emulator.set_time(emulator.now());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let driver = ChromeDriver::start(Path::new(env!("CARGO_TARGET_TMPDIR"))).await;
    let browser = driver.new_session().await;
    browser.goto(&format!("{origin}/")).await;
    let user = browser.wait_for("#user").await.text().await;
    emulator.enroll_totp(&user);
    let page = browser.window_handle().await;

    // 1. In a window of its own.
    start_transfer(&browser, "2500").await;
    browser
        .wait_for_visible("#launch-window")
        .await
        .click()
        .await;
    let handles = wait_for_windows(&browser, "a second window", |h| h.len() == 2).await;
    let ui = handles.iter().find(|h| **h != page).unwrap();
    browser.switch_to_window(ui).await;
    let url = browser.current_url().await;
    assert!(
        url.starts_with(&format!("{}/ui/challenge?token=", emulator.origin()))
            && url.ends_with("&mode=popup"),
        "{url}"
    );
    let code = next_app_code(&emulator, &user);
    browser.wait_for("#code").await.fill(&code).await;
    browser.wait_for("#verify").await.click().await;
    // The page's opener closes the window once it has the token.
    wait_for_windows(&browser, "the window closed", |h| h == [page.clone()]).await;
    browser.switch_to_window(&page).await;
    browser.wait_for_text("#confirmation", "Sent 2500 to").await;

    // 2. In a popup: the SDK's dialog, with the pre-built UI in an iframe. The person
    // tabs into it, types the code and presses Enter.
    start_transfer(&browser, "3000").await;
    browser
        .wait_for_visible("#launch-popup")
        .await
        .click()
        .await;
    browser.wait_for_visible("#__authsignal-popup-iframe").await;
    let src = browser
        .execute(
            "return document.getElementById('__authsignal-popup-iframe').src",
            json!([]),
        )
        .await;
    assert!(src.as_str().unwrap().ends_with("&mode=popup"), "{src}");
    let code = next_app_code(&emulator, &user);
    type_into_popup(&browser, &format!("{code}{ENTER}")).await;
    browser.wait_for_text("#confirmation", "Sent 3000 to").await;
    assert!(
        browser.find("#__authsignal-popup-container").await.is_err(),
        "the dialog closed"
    );

    // Each transfer once, each after the pre-built UI's step-up; the gate validated each
    // token once.
    browser.wait_for_text("#transfers", "3000").await;
    let mut listed = Vec::new();
    for item in browser.find_all("li.transfer").await {
        listed.push(item.text().await);
    }
    assert_eq!(listed.len(), 2, "{listed:?}");
    for (text, amount) in listed.iter().zip(["2500", "3000"]) {
        assert!(
            text.starts_with(amount) && text.contains("verified with AUTHENTICATOR_APP"),
            "{text}"
        );
    }
    let calls = emulator.calls();
    let count = |operation: &str| calls.iter().filter(|c| c.operation == operation).count();
    assert_eq!(count("uiSubmit"), 2);
    assert_eq!(count("validateChallenge"), 2);

    browser.quit().await;
    drop(driver);
    emulator.shutdown().await;
}

/// An emulator with `withdraw` challenged, and `user` enrolled with an app; a track `url`
/// for it whose `redirectUrl` is on `trusted`.
async fn tracked_url(trusted: &str) -> (EmulatorHandle, String) {
    let emulator = Emulator::builder()
        .action("withdraw", ActionConfig::challenge())
        .start()
        .await
        .unwrap();
    emulator.enroll_totp("u1");
    let tracked = emulator
        .client()
        .track(
            "u1",
            "withdraw",
            TrackAttributes {
                redirect_url: Some(format!("{trusted}/done")),
                ..TrackAttributes::default()
            },
        )
        .await
        .unwrap();
    (emulator, tracked.url.unwrap())
}

/// Messages this page has received so far, as `[origin, data as text]`.
async fn received(browser: &Session) -> Vec<Value> {
    let messages = browser.execute("return window.received", json!([])).await;
    messages.as_array().cloned().unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_of_another_origin_that_opens_the_prebuilt_ui_gets_nothing() {
    if !webdriver::browser_installed("launch modes test") {
        return;
    }
    // The trusted app (its origin is the redirectUrl's) and another site.
    let trusted = serve(axum::Router::new()).await;
    let other = serve(axum::Router::new().route(
        "/",
        axum::routing::get(|| async { Html("<!doctype html><title>Another site</title>") }),
    ))
    .await;
    assert_ne!(trusted, other);
    let (emulator, url) = tracked_url(&trusted).await;

    let driver = ChromeDriver::start(Path::new(env!("CARGO_TARGET_TMPDIR"))).await;
    let browser = driver.new_session().await;
    browser.goto(&format!("{other}/")).await;
    let opener = browser.window_handle().await;
    // The other site opens the pre-built UI as the SDK's window mode does, and listens.
    browser
        .execute(
            "window.received = [];
             window.addEventListener('message', (event) => window.received.push(
               [event.origin, typeof event.data === 'string' ? event.data : JSON.stringify(event.data)]));
             window.open(arguments[0] + '&mode=popup', '', 'width=400,height=500');",
            json!([url]),
        )
        .await;
    let handles = wait_for_windows(&browser, "a second window", |h| h.len() == 2).await;
    let ui = handles.iter().find(|h| **h != opener).unwrap().clone();
    browser.switch_to_window(&ui).await;
    browser
        .wait_for("#code")
        .await
        .fill(&emulator.totp_code("u1").unwrap())
        .await;
    browser.wait_for("#verify").await.click().await;
    browser.wait_for_text("#success", "You are verified").await;
    // The page had the token, and its script ran (to the end of the document) ...
    let done = browser
        .execute(
            "return [document.readyState, document.querySelector('main').dataset.resultToken || '']",
            json!([]),
        )
        .await;
    assert_eq!(done[0], "complete");
    assert!(done[1].as_str().unwrap().starts_with("eyJ"), "{done}");
    // ... then this window posts a message of its own to the opener: messages from one
    // window to another arrive in order, so once it has arrived, anything the page's
    // script posted to this opener would have arrived before it.
    browser
        .execute(
            "window.opener.postMessage('sent after the page', '*')",
            json!([]),
        )
        .await;
    browser.switch_to_window(&opener).await;
    let deadline = Instant::now() + WAIT;
    let messages = loop {
        let messages = received(&browser).await;
        if !messages.is_empty() || Instant::now() >= deadline {
            break messages;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(
        messages,
        [json!([emulator.origin(), "sent after the page"])],
        "the other site got only the message sent after the page"
    );

    browser.quit().await;
    drop(driver);
    emulator.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_script_without_the_pages_nonce_does_not_run() {
    if !webdriver::browser_installed("launch modes test") {
        return;
    }
    let (emulator, url) = tracked_url("https://app.example").await;
    let driver = ChromeDriver::start(Path::new(env!("CARGO_TARGET_TMPDIR"))).await;
    let browser = driver.new_session().await;
    // Runs an injected inline script, with `nonce` if given; whether it ran.
    let inject = "const run = (nonce) => {
                    window.ran = false;
                    const script = document.createElement('script');
                    if (nonce) script.nonce = nonce;
                    script.textContent = 'window.ran = true';
                    document.body.append(script);
                    return window.ran;
                  };
                  const own = document.querySelector('script[nonce]');
                  return [run(null), run('not-the-nonce'), own ? run(own.nonce) : null];";
    // The page in popup mode has a script of its own: only its nonce runs.
    browser.goto(&format!("{url}&mode=popup")).await;
    browser.wait_for("#code").await;
    let ran = browser.execute(inject, json!([])).await;
    assert_eq!(ran, json!([false, false, true]));
    // The page on its own has no script: nothing injected runs.
    browser.goto(&url).await;
    browser.wait_for("#code").await;
    let ran = browser.execute(inject, json!([])).await;
    assert_eq!(ran, json!([false, false, null]));

    browser.quit().await;
    drop(driver);
    emulator.shutdown().await;
}
