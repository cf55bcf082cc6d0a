//! Retries: which failures are retried, how often, with which idempotency key, how
//! `Retry-After` is honoured, and that every call ends within its deadline.

use crate::common;

use std::time::{Duration, Instant};

use crate::common::{Reply, ResetServer, TestServer, refused_base_url};
use authsignal::types::*;
use authsignal::*;
use serde_json::json;

fn error_body() -> serde_json::Value {
    json!({"error": "oops", "errorDescription": "something went wrong"})
}

fn validate_request() -> ValidateChallengeRequest {
    ValidateChallengeRequest {
        token: "token".into(),
        ..Default::default()
    }
}

#[tokio::test]
async fn get_on_503_is_attempted_three_times_then_fails() {
    let server = TestServer::fixed(Reply::json(503, error_body())).await;
    let err = server.client().get_user("user-1").await.unwrap_err();
    assert!(
        matches!(&err, Error::Api(api) if api.status == 503),
        "{err:?}"
    );
    assert_eq!(server.count(), 3);
    assert!(err.is_transient());
}

#[tokio::test]
async fn a_get_that_recovers_on_the_last_attempt_succeeds() {
    let server = TestServer::start(|_, index| match index {
        0 | 1 => Reply::json(503, error_body()),
        _ => Reply::json(200, json!({"isEnrolled": true})),
    })
    .await;
    let user = server.client().get_user("user-1").await.unwrap();
    assert!(user.is_enrolled);
    assert_eq!(server.count(), 3);
}

#[tokio::test]
async fn disabled_retries_make_one_attempt() {
    let server = TestServer::fixed(Reply::json(503, error_body())).await;
    let client = server
        .builder()
        .retry_policy(RetryPolicy::disabled())
        .build()
        .unwrap();
    let err = client.get_user("user-1").await.unwrap_err();
    assert_eq!(err.status(), Some(http::StatusCode::SERVICE_UNAVAILABLE));
    assert_eq!(server.count(), 1);
}

#[tokio::test]
async fn get_on_other_4xx_is_attempted_once() {
    for status in [400u16, 401, 403, 404, 409, 422] {
        let server = TestServer::fixed(Reply::json(status, error_body())).await;
        let err = server.client().get_user("user-1").await.unwrap_err();
        assert_eq!(
            err.status().map(|s| s.as_u16()),
            Some(status),
            "{status}: {err:?}"
        );
        assert_eq!(server.count(), 1, "{status}");
        assert!(!err.is_transient(), "{status}");
    }
}

#[tokio::test]
async fn track_on_500_retries_with_the_same_generated_key() {
    let server = TestServer::fixed(Reply::json(500, error_body())).await;
    let err = server
        .client()
        .track("user-1", "withdraw", TrackAttributes::default())
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(http::StatusCode::INTERNAL_SERVER_ERROR));
    let requests = server.requests();
    assert_eq!(requests.len(), 3);
    let keys: Vec<String> = requests
        .iter()
        .map(|request| {
            request.json()["idempotencyKey"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    uuid::Uuid::parse_str(&keys[0]).expect("a generated UUID");
    assert!(keys.iter().all(|key| *key == keys[0]), "{keys:?}");
    // The whole body is the same on every attempt.
    assert!(requests.iter().all(|r| r.body == requests[0].body));
}

#[tokio::test]
async fn track_on_500_retries_with_the_callers_key() {
    let server = TestServer::fixed(Reply::json(500, error_body())).await;
    let attributes = TrackAttributes {
        idempotency_key: Some("caller-key-1".into()),
        email: Some("a@b.c".into()),
        ..Default::default()
    };
    server
        .client()
        .track("user-1", "withdraw", attributes)
        .await
        .unwrap_err();
    let requests = server.requests();
    assert_eq!(requests.len(), 3);
    for request in &requests {
        assert_eq!(
            request.json(),
            json!({"idempotencyKey": "caller-key-1", "email": "a@b.c"})
        );
    }
}

#[tokio::test]
async fn track_that_recovers_is_recorded_under_one_key() {
    let server = TestServer::start(|request, index| match index {
        0 => Reply::json(502, error_body()),
        _ => Reply::json(
            200,
            json!({"idempotencyKey": request.json()["idempotencyKey"], "state": "ALLOW"}),
        ),
    })
    .await;
    let tracked = server
        .client()
        .track("user-1", "withdraw", TrackAttributes::default())
        .await
        .unwrap();
    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[0].body, requests[1].body);
    assert_eq!(
        tracked.idempotency_key,
        requests[0].json()["idempotencyKey"].as_str().unwrap()
    );
}

#[tokio::test]
async fn unsafe_posts_on_500_are_attempted_once() {
    let server = TestServer::fixed(Reply::json(500, error_body())).await;
    let client = server.client();
    let err = client
        .validate_challenge(&validate_request())
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(http::StatusCode::INTERNAL_SERVER_ERROR));
    assert_eq!(server.count(), 1);
    // Same for the other non-idempotent writes.
    client
        .challenge(&ChallengeRequest::default())
        .await
        .unwrap_err();
    client
        .update_user("u", &UpdateUserRequest::default())
        .await
        .unwrap_err();
    client.delete_user("u").await.unwrap_err();
    assert_eq!(server.count(), 4);
}

#[tokio::test]
async fn too_many_requests_waits_out_retry_after() {
    let server = TestServer::start(|_, index| match index {
        0 => Reply::json(429, json!({"error": "too_many_requests"})).header("Retry-After", "1"),
        _ => Reply::json(200, json!({"isEnrolled": true})),
    })
    .await;
    let started = Instant::now();
    let user = server.client().get_user("user-1").await.unwrap();
    let elapsed = started.elapsed();
    assert!(user.is_enrolled);
    assert_eq!(server.count(), 2);
    assert!(elapsed >= Duration::from_secs(1), "waited only {elapsed:?}");
}

#[tokio::test]
async fn retry_after_beyond_the_cap_ends_the_call_at_once() {
    let server = TestServer::fixed(
        Reply::json(429, json!({"error": "too_many_requests"})).header("Retry-After", "30"),
    )
    .await;
    let started = Instant::now();
    let err = server.client().get_user("user-1").await.unwrap_err();
    let elapsed = started.elapsed();
    let Error::Api(api) = &err else {
        panic!("expected an API error, got {err:?}")
    };
    assert_eq!(api.status, 429);
    assert_eq!(api.code.as_deref(), Some("too_many_requests"));
    assert_eq!(api.retry_after, Some(Duration::from_secs(30)));
    assert_eq!(server.count(), 1);
    // It did not wait the 30 s asked for (a generous bound: only the order of magnitude).
    assert!(elapsed < Duration::from_secs(15), "{elapsed:?}");

    // A lower cap turns an otherwise honoured Retry-After into an immediate error too.
    let server = TestServer::fixed(Reply::json(503, error_body()).header("Retry-After", "2")).await;
    let client = server
        .builder()
        .retry_policy(common::fast_retry().max_retry_after(Duration::from_secs(1)))
        .build()
        .unwrap();
    let err = client.get_user("user-1").await.unwrap_err();
    let Error::Api(api) = &err else {
        panic!("expected an API error, got {err:?}")
    };
    assert_eq!(api.retry_after, Some(Duration::from_secs(2)));
    assert_eq!(server.count(), 1);
}

#[tokio::test]
async fn a_reset_connection_is_retried_only_for_repeatable_calls() {
    let server = ResetServer::start().await;
    let client = common::client_for(&server.base_url);
    let err = client.get_user("user-1").await.unwrap_err();
    assert!(matches!(err, Error::Connection { .. }), "{err:?}");
    assert_eq!(server.connections(), 3, "GET is retried");

    let server = ResetServer::start().await;
    let client = common::client_for(&server.base_url);
    let err = client
        .track("user-1", "signIn", TrackAttributes::default())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Connection { .. }), "{err:?}");
    assert_eq!(
        server.connections(),
        3,
        "track carries an idempotency key: retried"
    );

    let server = ResetServer::start().await;
    let client = common::client_for(&server.base_url);
    let err = client
        .validate_challenge(&validate_request())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Connection { .. }), "{err:?}");
    assert_eq!(server.connections(), 1, "validate may have been acted on");
    assert!(err.is_transient());
}

#[tokio::test]
async fn a_refused_connection_is_a_connection_error() {
    let base_url = refused_base_url().await;
    let client = common::client_for(&base_url);
    let err = client.get_user("user-1").await.unwrap_err();
    assert!(matches!(err, Error::Connection { .. }), "{err:?}");
    assert!(err.is_transient());
    let err = client
        .validate_challenge(&validate_request())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Connection { .. }), "{err:?}");
}

#[tokio::test]
async fn a_server_that_never_answers_ends_in_a_timeout_within_the_deadline() {
    let server = TestServer::fixed(Reply::never()).await;
    // Each attempt may take 20 s, but the whole call only 500 ms: the deadline must cut
    // the first attempt short (the bound below is 10x the deadline, half the attempt).
    let client = server
        .builder()
        .attempt_timeout(Duration::from_secs(20))
        .deadline(Duration::from_millis(500))
        .build()
        .unwrap();
    let started = Instant::now();
    let err = client.get_user("user-1").await.unwrap_err();
    let elapsed = started.elapsed();
    assert!(matches!(err, Error::Timeout { .. }), "{err:?}");
    assert!(err.is_transient());
    assert!(elapsed >= Duration::from_millis(500), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(5), "took {elapsed:?}");
    let attempts = server.count();
    assert!((1..=3).contains(&attempts), "{attempts} attempts");

    // A non-repeatable call gets one attempt only.
    let server = TestServer::fixed(Reply::never()).await;
    let client = server
        .builder()
        .attempt_timeout(Duration::from_millis(200))
        .deadline(Duration::from_millis(500))
        .build()
        .unwrap();
    let started = Instant::now();
    let err = client
        .validate_challenge(&validate_request())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Timeout { .. }), "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(server.count(), 1);
}
