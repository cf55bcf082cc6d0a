//! Faults and latency from the configuration, the builder and the emulator-only HTTP
//! routes (`/v1/emulator/faults`, `/v1/emulator/latency`), which tests in any language use.

use std::time::Duration;

use authsignal::Error;
use authsignal::types::TrackAttributes;
use authsignal_emulator::{EmulatorConfig, EmulatorHandle, Fault};
use http::StatusCode;
use reqwest::Method;
use serde_json::{Value, json};

use crate::emulator_util::{builder, no_retry_client, raw};

fn api_status(err: &Error) -> Option<u16> {
    match err {
        Error::Api(api) => Some(api.status.as_u16()),
        _ => None,
    }
}

/// A client that waits 300 ms for an answer, once: latency shows as a timeout.
fn impatient_client(emulator: &EmulatorHandle) -> authsignal::Authsignal {
    emulator
        .client_builder()
        .attempt_timeout(Duration::from_millis(300))
        .retry_policy(authsignal::RetryPolicy::disabled())
        .build()
        .unwrap()
}

async fn control(
    emulator: &EmulatorHandle,
    method: Method,
    path: &str,
    body: Value,
) -> (u16, Value) {
    raw(emulator, method, path, Some(&body.to_string())).await
}

#[tokio::test]
async fn faults_armed_over_http_hit_their_operation_then_clear() {
    let emulator = builder().start().await.unwrap();
    let client = no_retry_client(&emulator);
    let (status, armed) = control(
        &emulator,
        Method::POST,
        "/emulator/faults",
        json!({"operation": "getUser", "fault": "503", "times": 2}),
    )
    .await;
    assert_eq!(status, 200, "{armed}");
    assert_eq!(armed["fault"], "503");
    for _ in 0..2 {
        let err = client.get_user("u1").await.unwrap_err();
        assert_eq!(api_status(&err), Some(503));
    }
    assert!(client.get_user("u1").await.is_ok(), "twice, then gone");

    // A wildcard reset would cut every call, but never the controls: it can be cleared.
    let (status, _) = control(
        &emulator,
        Method::POST,
        "/emulator/faults",
        json!({"operation": "*", "fault": "reset", "always": true}),
    )
    .await;
    assert_eq!(status, 200);
    assert!(matches!(
        client.get_user("u1").await.unwrap_err(),
        Error::Connection { .. }
    ));
    let (status, _) = raw(&emulator, Method::DELETE, "/emulator/faults", None).await;
    assert_eq!(status, 200);
    assert!(client.get_user("u1").await.is_ok());

    // Only one operation's faults, by name.
    for operation in ["getUser", "track"] {
        control(
            &emulator,
            Method::POST,
            "/emulator/faults",
            json!({"operation": operation, "fault": "status", "status": 418, "always": true}),
        )
        .await;
    }
    raw(
        &emulator,
        Method::DELETE,
        "/emulator/faults?operation=getUser",
        None,
    )
    .await;
    assert!(client.get_user("u1").await.is_ok());
    let err = client
        .track("u1", "withdraw", TrackAttributes::default())
        .await
        .unwrap_err();
    assert_eq!(api_status(&err), Some(418));
    assert_eq!(emulator.call_count("emulatorFaults"), 6);
}

#[tokio::test]
async fn a_fault_that_names_nothing_is_a_400_and_arms_nothing() {
    let emulator = builder().start().await.unwrap();
    for bad in [
        json!({"operation": "getUser", "fault": "5O3"}),
        json!({"operation": "getUser", "fault": "status", "status": 200}),
        json!({"operation": "getUser", "fault": "status"}),
        json!({"operation": "getUser", "fault": "reset", "millis": 5}),
        json!({"operation": "getUser", "fault": "reset", "always": true, "times": 2}),
        json!({"operation": "", "fault": "reset"}),
        json!({"operation": "getUser", "fault": "reset", "colour": "red"}),
    ] {
        let (status, body) =
            control(&emulator, Method::POST, "/emulator/faults", bad.clone()).await;
        assert_eq!(
            (status, body["errorCode"].as_str()),
            (400, Some("invalid_request")),
            "{bad}"
        );
    }
    assert!(emulator.client().get_user("u1").await.is_ok());
    // Without the secret, the controls are as closed as the API.
    let response = reqwest::Client::new()
        .post(format!("{}/emulator/faults", emulator.api_url()))
        .json(&json!({"operation": "*", "fault": "reset", "always": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 401);
    assert!(emulator.client().get_user("u1").await.is_ok());
}

#[tokio::test]
async fn latency_delays_an_operation_until_removed_and_faults_still_apply() {
    let emulator = builder().start().await.unwrap();
    let impatient = impatient_client(&emulator);
    let (status, body) = control(
        &emulator,
        Method::PUT,
        "/emulator/latency",
        json!({"operation": "getUser", "millis": 5_000}),
    )
    .await;
    assert_eq!((status, body["millis"].as_u64()), (200, Some(5_000)));
    assert!(matches!(
        impatient.get_user("u1").await.unwrap_err(),
        Error::Timeout { .. }
    ));
    // Other operations are not delayed.
    assert!(impatient.get_authenticators("u1").await.is_ok());
    // Zero removes it.
    control(
        &emulator,
        Method::PUT,
        "/emulator/latency",
        json!({"operation": "getUser", "millis": 0}),
    )
    .await;
    assert!(impatient.get_user("u1").await.is_ok());

    // A latency and a fault together: delayed, then the fault.
    emulator.set_latency("getUser", Duration::from_millis(20));
    emulator.inject_fault("getUser", Fault::status(StatusCode::BAD_GATEWAY));
    let err = impatient.get_user("u1").await.unwrap_err();
    assert_eq!(api_status(&err), Some(502));
    let (status, _) = raw(&emulator, Method::DELETE, "/emulator/latency", None).await;
    assert_eq!(status, 200);
    assert!(impatient.get_user("u1").await.is_ok());
    let (status, _) = control(
        &emulator,
        Method::PUT,
        "/emulator/latency",
        json!({"operation": "getUser"}),
    )
    .await;
    assert_eq!(status, 400, "millis is required");
}

#[tokio::test]
async fn the_configuration_and_the_builder_arm_faults_and_latency_from_the_start() {
    let config = EmulatorConfig::from_json(
        r#"{"actions": {"withdraw": {"defaultOutcome": "CHALLENGE_REQUIRED"}},
            "faults": [{"operation": "track", "fault": "status", "status": 503, "times": 1}],
            "latencyMillis": {"getUser": 5000}}"#,
    )
    .unwrap();
    let emulator = builder()
        .config(config)
        .fault("track", Fault::malformed_json())
        .latency("getAuthenticators", Duration::from_millis(1))
        .start()
        .await
        .unwrap();
    let client = no_retry_client(&emulator);
    // The configuration's fault first, then the builder's, then the real answer.
    let first = client
        .track("u1", "withdraw", TrackAttributes::default())
        .await
        .unwrap_err();
    assert_eq!(api_status(&first), Some(503));
    let second = client
        .track("u1", "withdraw", TrackAttributes::default())
        .await
        .unwrap_err();
    assert!(matches!(second, Error::Decode(_)), "{second:?}");
    assert!(
        client
            .track("u1", "withdraw", TrackAttributes::default())
            .await
            .is_ok()
    );
    let impatient = impatient_client(&emulator);
    assert!(matches!(
        impatient.get_user("u1").await.unwrap_err(),
        Error::Timeout { .. }
    ));

    let bad = EmulatorConfig::from_json(r#"{"faults": [{"operation": "track", "fault": "boom"}]}"#)
        .unwrap();
    let err = builder().config(bad).start().await.unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    assert!(err.to_string().contains("boom"), "{err}");
}
