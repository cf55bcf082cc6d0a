//! Each injected fault is seen by our client as the right error, counts down, and clears.

use std::time::{Duration, Instant};

use authsignal::types::{TrackAttributes, UserActionState, ValidateChallengeRequest};
use authsignal::{Error, RetryPolicy};
use authsignal_emulator::{ANY_OPERATION, Fault};
use http::StatusCode;

use crate::emulator_util::{no_retry_client, start};

#[tokio::test]
async fn status_faults_are_api_errors_with_a_json_body() {
    let emulator = start().await;
    let client = no_retry_client(&emulator);
    for status in [
        StatusCode::INTERNAL_SERVER_ERROR,
        StatusCode::BAD_GATEWAY,
        StatusCode::SERVICE_UNAVAILABLE,
    ] {
        emulator.inject_fault("getUser", Fault::status(status));
        let err = client.get_user("u1").await.unwrap_err();
        let Error::Api(api) = &err else {
            panic!("{status}: expected an API error, got {err:?}");
        };
        assert_eq!(api.status, status);
        assert!(api.code.is_some(), "the body carries a code");
        assert!(err.is_transient());
    }
    // Once each: the next call is answered normally.
    assert!(client.get_user("u1").await.is_ok());
}

#[tokio::test]
async fn too_many_requests_carries_retry_after() {
    let emulator = start().await;
    emulator.inject_fault("track", Fault::too_many_requests(Duration::from_secs(120)));
    // The default policy waits out a Retry-After of up to 5 s; 120 s ends the call.
    let err = emulator
        .client()
        .track("u1", "withdraw", TrackAttributes::default())
        .await
        .unwrap_err();
    let Error::Api(api) = &err else {
        panic!("expected a 429, got {err:?}");
    };
    assert_eq!(api.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(api.code.as_deref(), Some("too_many_requests"));
    assert_eq!(api.retry_after, Some(Duration::from_secs(120)));
    assert_eq!(emulator.call_count("track"), 1, "not retried");
}

#[tokio::test]
async fn a_connection_reset_is_a_connection_error_not_a_status() {
    let emulator = start().await;
    emulator.inject_fault("getUser", Fault::connection_reset().times(2));

    // Plain reqwest: no status at all, the connection just closes.
    let raw = reqwest::Client::new()
        .get(format!("{}/users/u1", emulator.api_url()))
        .basic_auth(emulator.secret(), Some(""))
        .send()
        .await;
    let err = raw.expect_err("no answer");
    assert!(err.status().is_none());
    assert!(!err.is_timeout());

    let err = no_retry_client(&emulator).get_user("u1").await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::Connection {
                operation: "getUser",
                ..
            }
        ),
        "{err:?}"
    );
    assert!(
        no_retry_client(&emulator).get_user("u1").await.is_ok(),
        "two times only"
    );
}

#[tokio::test]
async fn track_is_retried_after_a_reset_and_tracked_once() {
    let emulator = start().await;
    emulator.enroll_totp("u1");
    emulator.inject_fault("track", Fault::connection_reset());
    let client = emulator
        .client_builder()
        .retry_policy(
            RetryPolicy::default().backoff(Duration::from_millis(1), Duration::from_millis(5)),
        )
        .build()
        .unwrap();
    let tracked = client
        .track("u1", "withdraw", TrackAttributes::default())
        .await
        .unwrap();
    assert_eq!(tracked.state, UserActionState::ChallengeRequired);
    assert_eq!(
        emulator.call_count("track"),
        2,
        "the reset attempt and the retry"
    );
    let actions = client
        .query_user_actions("u1", &Default::default())
        .await
        .unwrap();
    assert_eq!(actions.len(), 1);
}

#[tokio::test]
async fn malformed_and_truncated_json_are_decode_errors() {
    let emulator = start().await;
    let client = no_retry_client(&emulator);
    emulator.inject_fault("getUser", Fault::malformed_json());
    let err = client.get_user("u1").await.unwrap_err();
    assert!(matches!(err, Error::Decode(_)), "{err:?}");

    emulator.inject_fault("track", Fault::truncated_json());
    let err = client
        .track("u1", "withdraw", TrackAttributes::default())
        .await
        .unwrap_err();
    let Error::Decode(decode) = &err else {
        panic!("expected a decode error, got {err:?}");
    };
    assert_eq!(decode.status, StatusCode::OK);
    // The truncated answer was real: the action was tracked.
    assert_eq!(
        client
            .query_user_actions("u1", &Default::default())
            .await
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn a_slow_body_sends_headers_at_once() {
    let emulator = start().await;
    let get_user = || {
        reqwest::Client::new()
            .get(format!("{}/users/u1", emulator.api_url()))
            .basic_auth(emulator.secret(), Some(""))
            .send()
    };
    // The headers come while the body is still held back: the body is not there a moment
    // after them. (Only the order is asserted: no upper bound on how long anything takes.)
    emulator.inject_fault("getUser", Fault::slow_body(Duration::from_secs(30)));
    let response = get_user().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let early = tokio::time::timeout(Duration::from_millis(300), response.bytes()).await;
    assert!(early.is_err(), "the body came with the headers");

    // The body does come, after the delay.
    let delay = Duration::from_millis(1000);
    emulator.inject_fault("getUser", Fault::slow_body(delay));
    let started = Instant::now();
    let body: serde_json::Value = get_user().await.unwrap().json().await.unwrap();
    assert!(started.elapsed() >= delay, "the body came early");
    assert_eq!(body["isEnrolled"], false);

    // A client whose attempt budget ends before the body times out.
    emulator.inject_fault("getUser", Fault::slow_body(Duration::from_secs(5)));
    let impatient = emulator
        .client_builder()
        .attempt_timeout(Duration::from_millis(300))
        .retry_policy(RetryPolicy::disabled())
        .build()
        .unwrap();
    let err = impatient.get_user("u1").await.unwrap_err();
    assert!(matches!(err, Error::Timeout { .. }), "{err:?}");
}

#[tokio::test]
async fn latency_trips_the_client_timeout() {
    let emulator = start().await;
    emulator.inject_fault("validateChallenge", Fault::latency(Duration::from_secs(5)));
    let impatient = emulator
        .client_builder()
        .attempt_timeout(Duration::from_millis(300))
        .retry_policy(RetryPolicy::disabled())
        .build()
        .unwrap();
    let err = impatient
        .validate_challenge(&ValidateChallengeRequest {
            token: "x".into(),
            ..ValidateChallengeRequest::default()
        })
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Timeout {
                operation: "validateChallenge",
                ..
            }
        ),
        "{err:?}"
    );

    // A latency well within the budget only slows the answer down.
    emulator.inject_fault("getUser", Fault::latency(Duration::from_millis(200)));
    let patient = emulator
        .client_builder()
        .attempt_timeout(Duration::from_secs(10))
        .retry_policy(RetryPolicy::disabled())
        .build()
        .unwrap();
    let started = Instant::now();
    assert!(patient.get_user("u1").await.is_ok());
    assert!(started.elapsed() >= Duration::from_millis(200));
}

#[tokio::test]
async fn an_unknown_state_decodes_as_other() {
    let emulator = start().await;
    emulator.enroll_totp("u1");
    let client = emulator.client();
    emulator.inject_fault("track", Fault::unknown_state());
    let tracked = client
        .track("u1", "withdraw", TrackAttributes::default())
        .await
        .unwrap();
    assert_eq!(
        tracked.state,
        UserActionState::Other("SOMETHING_NEW".into())
    );
    emulator.inject_fault("validateChallenge", Fault::unknown_state());
    let validated = client
        .validate_challenge(&ValidateChallengeRequest {
            token: tracked.token.unwrap(),
            ..ValidateChallengeRequest::default()
        })
        .await
        .unwrap();
    assert_eq!(
        validated.state,
        Some(UserActionState::Other("SOMETHING_NEW".into()))
    );
}

#[tokio::test]
async fn faults_count_down_match_by_operation_and_clear() {
    let emulator = start().await;
    let client = no_retry_client(&emulator);
    emulator.inject_fault(
        ANY_OPERATION,
        Fault::status(StatusCode::BAD_GATEWAY).always(),
    );
    emulator.inject_fault(
        "getUser",
        Fault::status(StatusCode::SERVICE_UNAVAILABLE).times(2),
    );
    let status = |result: Result<authsignal::types::User, Error>| result.unwrap_err().status();
    assert_eq!(
        status(client.get_user("u1").await),
        Some(StatusCode::SERVICE_UNAVAILABLE)
    );
    assert_eq!(
        status(client.get_user("u1").await),
        Some(StatusCode::SERVICE_UNAVAILABLE)
    );
    assert_eq!(
        status(client.get_user("u1").await),
        Some(StatusCode::BAD_GATEWAY),
        "then the wildcard"
    );
    let other = client.get_authenticators("u1").await.unwrap_err();
    assert_eq!(other.status(), Some(StatusCode::BAD_GATEWAY));
    emulator.clear_faults_for(ANY_OPERATION);
    assert!(client.get_user("u1").await.is_ok());

    emulator.inject_fault("getUser", Fault::connection_reset().always());
    emulator.clear_faults();
    assert!(client.get_user("u1").await.is_ok(), "cleared");
}

#[tokio::test]
async fn calls_show_when_no_call_was_made() {
    let emulator = start().await;
    let client = emulator.client();
    // A user id the client refuses to send: nothing reaches the emulator.
    assert!(matches!(
        client.get_user("..").await,
        Err(Error::InvalidArgument { .. })
    ));
    assert!(emulator.calls().is_empty());
    client.get_user("a/b").await.unwrap();
    let calls = emulator.calls();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].operation, "getUser");
    assert_eq!(calls[0].method, http::Method::GET);
    assert_eq!(calls[0].path, "/v1/users/a%2Fb");
    emulator.clear_calls();
    assert!(emulator.calls().is_empty());
}

#[tokio::test]
async fn a_bad_token_can_be_answered_400_while_good_tokens_still_validate() {
    let emulator = start().await;
    let client = no_retry_client(&emulator);
    emulator.enroll_totp("u1");
    let tracked = client
        .track("u1", "withdraw", TrackAttributes::default())
        .await
        .unwrap();
    let good = tracked.token.unwrap();
    let request = |token: &str| ValidateChallengeRequest {
        token: token.into(),
        user_id: Some("u1".into()),
        action: Some("withdraw".into()),
    };

    // Without the fault: the 200 shape.
    let answer = client
        .validate_challenge(&request("not-a-token"))
        .await
        .unwrap();
    assert!(!answer.is_valid);
    assert_eq!(answer.error.as_deref(), Some("Token is invalid."));

    emulator.inject_fault("validateChallenge", Fault::bad_token_rejected().always());
    for bad in ["not-a-token", "eyJhbGciOiJIUzI1NiJ9.e30.c2ln"] {
        let err = client.validate_challenge(&request(bad)).await.unwrap_err();
        let Error::Api(api) = &err else {
            panic!("expected an API error, got {err:?}");
        };
        assert_eq!(api.status, StatusCode::BAD_REQUEST);
        assert_eq!(api.code.as_deref(), Some("invalid_request"));
        assert_eq!(api.description.as_deref(), Some("Token is invalid."));
        assert!(!err.is_transient(), "a bad token is not an outage");
    }
    // An expired token is a bad token too.
    emulator.advance(authsignal_emulator::TOKEN_LIFETIME);
    let err = client
        .validate_challenge(&request(good.as_str()))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Api(api) if api.description.as_deref() == Some("Token has expired.")),
        "{err:?}"
    );
    // A good token still answers 200, as do user and action mismatches.
    let fresh = client
        .track("u1", "withdraw", TrackAttributes::default())
        .await
        .unwrap()
        .token
        .unwrap();
    let answer = client
        .validate_challenge(&request(fresh.as_str()))
        .await
        .unwrap();
    assert_eq!(answer.state, Some(UserActionState::ChallengeRequired));
    let other_user = client
        .validate_challenge(&ValidateChallengeRequest {
            user_id: Some("u2".into()),
            ..request(fresh.as_str())
        })
        .await
        .unwrap();
    assert_eq!(other_user.error.as_deref(), Some("User is invalid."));
}
