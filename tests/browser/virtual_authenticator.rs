//! The WebDriver client's commands beyond navigation, on their own: a virtual authenticator
//! (W3C WebAuthn §11.3) that a page's `navigator.credentials.create` registers a passkey
//! with, whose credentials WebDriver then reads back, and which, once removed, no longer
//! answers the page; and the session's windows, listed and switched between.
//!
//! The page is served on `http://localhost:<port>`: WebAuthn needs a secure context, which
//! `localhost` is over plain HTTP, and `localhost` is the relying party's id.

use crate::webdriver;

use std::path::Path;

use crate::webdriver::ChromeDriver;
use axum::response::Html;
use serde_json::{Value, json};

/// The user handle the page registers the passkey for.
const USER_HANDLE: &[u8] = b"user-4711";

/// Registers a resident, user-verified ES256 passkey for `localhost`; ends with its
/// credential id (base64url) or the error's name.
const CREATE: &str = r#"
const [userHandle, done] = arguments;
const base64url = (bytes) => btoa(String.fromCharCode(...new Uint8Array(bytes)))
    .replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
navigator.credentials.create({ publicKey: {
    rp: { id: 'localhost', name: 'Virtual authenticator test' },
    user: {
        id: new TextEncoder().encode(userHandle),
        name: 'someone@example.com',
        displayName: 'Someone',
    },
    challenge: crypto.getRandomValues(new Uint8Array(32)),
    pubKeyCredParams: [{ type: 'public-key', alg: -7 }],
    authenticatorSelection: { residentKey: 'required', userVerification: 'required' },
}}).then(
    (credential) => done({ id: base64url(credential.rawId) }),
    (error) => done({ error: error.name }),
);
"#;

/// Asks for an assertion from any passkey of `localhost`, for at most `timeout` ms; ends
/// with the asserting credential's id (base64url) or the error's name.
const GET: &str = r#"
const [timeout, done] = arguments;
const base64url = (bytes) => btoa(String.fromCharCode(...new Uint8Array(bytes)))
    .replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
navigator.credentials.get({ publicKey: {
    rpId: 'localhost',
    challenge: crypto.getRandomValues(new Uint8Array(32)),
    userVerification: 'required',
    timeout,
}}).then(
    (credential) => done({ id: base64url(credential.rawId) }),
    (error) => done({ error: error.name }),
);
"#;

/// An empty page on `http://localhost:<port>/`.
async fn serve_page() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let page = axum::Router::new().route(
        "/",
        axum::routing::get(|| async { Html("<!doctype html><title>WebAuthn</title><body>") }),
    );
    tokio::spawn(async move { axum::serve(listener, page).await.unwrap() });
    format!("http://localhost:{port}/")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_virtual_authenticator_holds_the_passkey_a_page_creates_until_removed() {
    if !webdriver::browser_installed("virtual authenticator test") {
        return;
    }
    let url = serve_page().await;
    let driver = ChromeDriver::start(Path::new(env!("CARGO_TARGET_TMPDIR"))).await;
    let browser = driver.new_session().await;
    browser.goto(&url).await;

    let authenticator = browser
        .add_virtual_authenticator(webdriver::platform_authenticator())
        .await;
    assert!(!authenticator.is_empty());
    assert!(browser.virtual_credentials(&authenticator).await.is_empty());

    let user_handle = std::str::from_utf8(USER_HANDLE).unwrap();
    let created = browser.execute_async(CREATE, json!([user_handle])).await;
    let credential_id = created["id"]
        .as_str()
        .unwrap_or_else(|| panic!("the page registered no passkey: {created}"));

    let credential = only_credential(browser.virtual_credentials(&authenticator).await);
    assert_eq!(credential["credentialId"], credential_id, "{credential}");
    assert_eq!(credential["rpId"], "localhost", "{credential}");
    assert_eq!(credential["isResidentCredential"], true, "{credential}");
    assert_eq!(
        credential["userHandle"],
        base64url(USER_HANDLE),
        "{credential}"
    );
    let created_count = credential["signCount"].as_u64().unwrap();

    // The authenticator answers the page while it is there, and counts the signature...
    let asserted = browser.execute_async(GET, json!([30_000])).await;
    assert_eq!(asserted["id"], credential_id, "{asserted}");
    let credential = only_credential(browser.virtual_credentials(&authenticator).await);
    assert!(
        credential["signCount"].as_u64().unwrap() > created_count,
        "{credential}"
    );

    // ... and not once removed: the request finds no authenticator and, after its
    // timeout, the browser refuses it.
    browser.remove_virtual_authenticator(&authenticator).await;
    let refused = browser.execute_async(GET, json!([1_000])).await;
    assert_eq!(refused, json!({ "error": "NotAllowedError" }));

    browser.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_session_lists_its_windows_and_switches_between_them() {
    if !webdriver::browser_installed("window test") {
        return;
    }
    let url = serve_page().await;
    let driver = ChromeDriver::start(Path::new(env!("CARGO_TARGET_TMPDIR"))).await;
    let browser = driver.new_session().await;
    browser.goto(&url).await;

    let first = browser.window_handle().await;
    assert_eq!(browser.window_handles().await, std::slice::from_ref(&first));

    browser
        .execute(
            "window.open(arguments[0] + '?second', '_blank');",
            json!([url]),
        )
        .await;
    let handles = browser.window_handles().await;
    assert_eq!(handles.len(), 2, "{handles:?}");
    let second = handles.into_iter().find(|handle| *handle != first).unwrap();

    browser.switch_to_window(&second).await;
    assert_eq!(browser.window_handle().await, second);
    browser
        .wait_for_url("the second window's page", |url| url.ends_with("?second"))
        .await;
    browser.switch_to_window(&first).await;
    assert_eq!(browser.window_handle().await, first);
    assert_eq!(browser.current_url().await, url);

    browser.quit().await;
}

/// The one credential of `credentials`, without its private key, which failure messages
/// would otherwise print.
fn only_credential(mut credentials: Vec<Value>) -> Value {
    assert_eq!(credentials.len(), 1, "{} credentials", credentials.len());
    let mut credential = credentials.remove(0);
    let private_key = credential.as_object_mut().unwrap().remove("privateKey");
    assert!(
        private_key.is_some_and(|key| key.is_string()),
        "{credential}"
    );
    credential
}

/// The spec's encoding of a credential's binary fields: base64url without padding.
fn base64url(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}
