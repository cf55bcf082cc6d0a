//! Helpers of the emulator's integration tests, shared by the modules of
//! `tests/emulator/main.rs`.
#![allow(dead_code)]

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use authsignal::RetryPolicy;
use authsignal::types::{TrackAttributes, TrackResponse};
use authsignal_emulator::{ActionConfig, Emulator, EmulatorBuilder, EmulatorHandle};
use serde_json::{Value, json};

/// A fixed instant the tests pin the emulator's clock at: 2024-06-01T12:00:10Z, ten
/// seconds into a TOTP step, so that no code is read at a step's edge.
pub fn t0() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_717_243_210)
}

/// A builder with a test secret.
pub fn builder() -> EmulatorBuilder {
    Emulator::builder().secret("sk_emulator_test")
}

/// An emulator with `withdraw` challenging everyone, its clock pinned at [`t0`].
pub async fn start() -> EmulatorHandle {
    let emulator = builder()
        .action("withdraw", ActionConfig::challenge())
        .start()
        .await
        .expect("the emulator starts");
    emulator.set_time(t0());
    emulator
}

/// A client of `emulator` that never retries, so that each fault is seen as it is.
pub fn no_retry_client(emulator: &EmulatorHandle) -> authsignal::Authsignal {
    emulator
        .client_builder()
        .retry_policy(RetryPolicy::disabled())
        .build()
        .expect("client builds")
}

/// `track` with an idempotency key and a redirect URL.
pub async fn track(
    emulator: &EmulatorHandle,
    user: &str,
    action: &str,
    redirect_url: Option<&str>,
) -> TrackResponse {
    emulator
        .client()
        .track(
            user,
            action,
            TrackAttributes {
                redirect_url: redirect_url.map(str::to_owned),
                ..TrackAttributes::default()
            },
        )
        .await
        .expect("track succeeds")
}

/// A 6-digit code that is not the user's code in the current step nor either neighbour
/// (which the emulator also accepts); the clock is left where it was.
pub fn wrong_code(emulator: &EmulatorHandle, user: &str) -> String {
    let now = emulator.now();
    let mut taken = Vec::new();
    for at in [
        now - Duration::from_secs(30),
        now,
        now + Duration::from_secs(30),
    ] {
        emulator.set_time(at);
        taken.push(emulator.totp_code(user).expect("the user has an app"));
    }
    emulator.set_time(now);
    (0..)
        .map(|n: u32| format!("{:06}", (n * 137_911) % 1_000_000))
        .find(|code| !taken.contains(code))
        .expect("some code is wrong")
}

/// The `failureReason` of the `attempt`th wrong code in a row (from 1).
pub fn failure_after(attempt: u32) -> &'static str {
    if attempt < authsignal_emulator::MAX_ATTEMPTS {
        "CODE_INVALID_OR_EXPIRED"
    } else {
        "MAX_ATTEMPTS_EXCEEDED"
    }
}

/// `POST /v1/client/verify/totp` with `token` as the Bearer token; status and body.
pub async fn client_verify_totp(
    emulator: &EmulatorHandle,
    token: &str,
    code: &str,
) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(format!("{}/client/verify/totp", emulator.api_url()))
        .bearer_auth(token)
        .json(&json!({ "verificationCode": code }))
        .send()
        .await
        .expect("the emulator answers");
    let status = response.status().as_u16();
    (status, response.json().await.expect("a JSON body"))
}

/// `POST /v1/client/user-authenticators/totp` with `token` as the Bearer token.
pub async fn client_enroll_totp(emulator: &EmulatorHandle, token: &str) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(format!(
            "{}/client/user-authenticators/totp",
            emulator.api_url()
        ))
        .bearer_auth(token)
        .send()
        .await
        .expect("the emulator answers");
    let status = response.status().as_u16();
    (status, response.json().await.expect("a JSON body"))
}

/// A raw request to the Server API with the emulator's secret; status and JSON body
/// (`Value::Null` for an empty one).
pub async fn raw(
    emulator: &EmulatorHandle,
    method: reqwest::Method,
    path: &str,
    body: Option<&str>,
) -> (u16, Value) {
    let mut request = reqwest::Client::new()
        .request(method, format!("{}{path}", emulator.api_url()))
        .basic_auth(emulator.secret(), Some(""));
    if let Some(body) = body {
        request = request
            .header("content-type", "application/json")
            .body(body.to_owned());
    }
    let response = request.send().await.expect("the emulator answers");
    let status = response.status().as_u16();
    let bytes = response.bytes().await.expect("a body");
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).expect("a JSON body")
    };
    (status, body)
}

/// A client API call as the Web SDK makes it: `POST {api}/client{path}` with the Bearer
/// `token`, `Content-Type: application/json` and the JSON `body` (none for `enroll` of
/// the app and for `challenge`); status and body.
pub async fn client_post(
    emulator: &EmulatorHandle,
    token: &str,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut request = reqwest::Client::new()
        .post(format!("{}/client{path}", emulator.api_url()))
        .header("content-type", "application/json")
        .bearer_auth(token);
    if let Some(body) = body {
        request = request.body(body.to_string());
    }
    let response = request.send().await.expect("the emulator answers");
    let status = response.status().as_u16();
    (status, response.json().await.expect("a JSON body"))
}
