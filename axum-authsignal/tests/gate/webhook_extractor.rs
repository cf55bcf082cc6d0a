//! [`VerifiedWebhook`], the Axum extractor, through a real router. Requests are signed with
//! `signature_header`, which the `authsignal` crate's tests check against the official
//! SDKs' vectors.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::UNIX_EPOCH;

use crate::webhook_events::{event_body, unix_now};
use axum::Router;
use axum::extract::{FromRef, State};
use axum::routing::post;
use axum_authsignal::webhook::{
    DEFAULT_BODY_LIMIT, SIGNATURE_HEADER, VerifiedWebhook, WebhookError, WebhookEvent,
    WebhookPayload, WebhookRejection, WebhookVerifier, signature_header,
};
use axum_test::TestServer;
use bytes::Bytes;
use http::{HeaderValue, StatusCode};
use serde_json::{Value, json};

#[derive(Clone)]
struct AppState {
    verifier: WebhookVerifier,
    runs: Arc<AtomicUsize>,
}

impl FromRef<AppState> for WebhookVerifier {
    fn from_ref(state: &AppState) -> Self {
        state.verifier.clone()
    }
}

async fn on_event(
    State(state): State<AppState>,
    VerifiedWebhook {
        payload: event,
        signed_at,
        ..
    }: VerifiedWebhook<WebhookEvent>,
) -> String {
    state.runs.fetch_add(1, Ordering::SeqCst);
    let signed_at = signed_at.duration_since(UNIX_EPOCH).unwrap().as_secs();
    format!(
        "{} {} {} signed at {signed_at}",
        event.event_type, event.id, event.data["code"]
    )
}

async fn on_payload(
    State(state): State<AppState>,
    VerifiedWebhook { payload, .. }: VerifiedWebhook,
) -> String {
    state.runs.fetch_add(1, Ordering::SeqCst);
    match payload {
        WebhookPayload::Event(event) => format!("event {}", event.id),
        WebhookPayload::LogEventBatch(batch) => format!("batch {}", batch.records.len()),
        _ => "other".to_owned(),
    }
}

fn server(verifier: WebhookVerifier) -> (TestServer, Arc<AtomicUsize>) {
    let runs = Arc::new(AtomicUsize::new(0));
    let state = AppState {
        verifier,
        runs: runs.clone(),
    };
    let app = Router::new()
        .route("/event", post(on_event))
        .route("/payload", post(on_payload))
        .with_state(state);
    (TestServer::new(app), runs)
}

fn signed(body: &str) -> String {
    let t = unix_now();
    signature_header("hook-secret", t, body.as_bytes())
}

fn assert_rejected(
    response: axum_test::TestResponse,
    status: StatusCode,
    code: &str,
    message: &str,
) {
    assert_eq!(response.status_code(), status, "{}", response.text());
    let body: Value = response.json();
    assert_eq!(body, json!({"error": code, "message": message}));
}

#[tokio::test]
async fn extractor_hands_the_typed_event_and_when_it_was_signed_to_the_handler() {
    let (server, runs) = server(WebhookVerifier::new("hook-secret"));
    let body = event_body("evt-42");
    // Signed a minute ahead of this clock, within the tolerance.
    let t = unix_now() + 60;
    let response = server
        .post("/event")
        .add_header(
            SIGNATURE_HEADER,
            signature_header("hook-secret", t, body.as_bytes()),
        )
        .bytes(Bytes::from(body))
        .await;
    assert_eq!(response.status_code(), StatusCode::OK);
    assert_eq!(
        response.text(),
        format!(r#"email.created evt-42 "157743" signed at {t}"#)
    );
    assert_eq!(runs.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn extractor_default_payload_tells_events_from_batches() {
    let (server, runs) = server(WebhookVerifier::new("hook-secret"));
    let batch = json!({"records": [
        {"version": 1, "type": "action.log_created", "id": "a", "source": "s",
         "time": "2025-02-20T01:51:56.070Z", "tenantId": "t", "record": {}},
        {"version": 1, "type": "action.log_created", "id": "b", "source": "s",
         "time": "2025-02-20T01:51:56.070Z", "tenantId": "t", "record": {}}
    ]})
    .to_string();
    let event = event_body("evt-7");
    for (body, expected) in [(batch.clone(), "batch 2"), (event, "event evt-7")] {
        let response = server
            .post("/payload")
            .add_header(SIGNATURE_HEADER, signed(&body))
            .bytes(Bytes::from(body))
            .await;
        assert_eq!(response.status_code(), StatusCode::OK);
        assert_eq!(response.text(), expected);
    }
    // A batch where a single event is expected is authentic but unprocessable.
    let response = server
        .post("/event")
        .add_header(SIGNATURE_HEADER, signed(&batch))
        .bytes(Bytes::from(batch))
        .await;
    assert_eq!(response.status_code(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(runs.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn extractor_rejects_a_bad_signature_without_running_the_handler() {
    let (server, runs) = server(WebhookVerifier::new("hook-secret"));
    let body = event_body("evt-1");
    let t = unix_now();
    let forged = signature_header("guessed", t, body.as_bytes());
    let response = server
        .post("/event")
        .add_header(SIGNATURE_HEADER, forged)
        .bytes(Bytes::from(body.clone()))
        .await;
    assert_rejected(
        response,
        StatusCode::BAD_REQUEST,
        "signature_mismatch",
        "Signature mismatch.",
    );

    let stale = signature_header("hook-secret", t - 3600, body.as_bytes());
    let response = server
        .post("/event")
        .add_header(SIGNATURE_HEADER, stale)
        .bytes(Bytes::from(body.clone()))
        .await;
    assert_rejected(
        response,
        StatusCode::BAD_REQUEST,
        "timestamp_outside_tolerance",
        "Timestamp is outside the tolerance zone.",
    );

    let mut raw = b"t=1,v2=".to_vec();
    raw.push(0xFF);
    let response = server
        .post("/event")
        .add_header(
            SIGNATURE_HEADER,
            HeaderValue::from_bytes(&raw).expect("obs-text"),
        )
        .bytes(Bytes::from(body.clone()))
        .await;
    assert_rejected(
        response,
        StatusCode::BAD_REQUEST,
        "invalid_signature_format",
        "Signature format is invalid.",
    );

    // Two signature headers, one of them valid: ambiguous, so refused.
    let response = server
        .post("/event")
        .add_header(SIGNATURE_HEADER, signed(&body))
        .add_header(SIGNATURE_HEADER, "t=1,v2=AAAA")
        .bytes(Bytes::from(body))
        .await;
    assert_eq!(response.status_code(), StatusCode::BAD_REQUEST);
    assert_eq!(runs.load(Ordering::SeqCst), 0, "the handler never ran");
}

#[tokio::test]
async fn extractor_rejects_a_missing_header() {
    let (server, runs) = server(WebhookVerifier::new("hook-secret"));
    let response = server
        .post("/event")
        .bytes(Bytes::from(event_body("evt-1")))
        .await;
    assert_rejected(
        response,
        StatusCode::BAD_REQUEST,
        "missing_signature",
        "The X-Signature-V2 header is missing.",
    );
    assert_eq!(runs.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn extractor_rejects_an_oversized_body_with_413() {
    let (server, runs) = server(WebhookVerifier::new("hook-secret"));
    // Exactly at the limit is read (and then fails to decode); one byte more is not read.
    let at_limit = "x".repeat(DEFAULT_BODY_LIMIT);
    let response = server
        .post("/event")
        .add_header(SIGNATURE_HEADER, signed(&at_limit))
        .bytes(Bytes::from(at_limit))
        .await;
    assert_eq!(response.status_code(), StatusCode::UNPROCESSABLE_ENTITY);

    let over = "x".repeat(DEFAULT_BODY_LIMIT + 1);
    let response = server
        .post("/event")
        .add_header(SIGNATURE_HEADER, signed(&over))
        .bytes(Bytes::from(over))
        .await;
    assert_rejected(
        response,
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
        &format!("The webhook body is larger than {DEFAULT_BODY_LIMIT} bytes."),
    );

    // A custom limit, enforced on a valid event.
    let (small, small_runs) = server_with_limit(64);
    let body = event_body("evt-big");
    let response = small
        .post("/event")
        .add_header(SIGNATURE_HEADER, signed(&body))
        .bytes(Bytes::from(body))
        .await;
    assert_eq!(response.status_code(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(
        runs.load(Ordering::SeqCst) + small_runs.load(Ordering::SeqCst),
        0
    );
}

fn server_with_limit(limit: usize) -> (TestServer, Arc<AtomicUsize>) {
    server(WebhookVerifier::new("hook-secret").with_body_limit(limit))
}

#[tokio::test]
async fn extractor_rejects_authentic_but_unexpected_json() {
    let (server, runs) = server(WebhookVerifier::new("hook-secret"));
    for body in [
        r#"{"hello":"world"}"#,
        "not json at all",
        r#"{"version":"one"}"#,
    ] {
        let response = server
            .post("/event")
            .add_header(SIGNATURE_HEADER, signed(body))
            .bytes(Bytes::from(body))
            .await;
        assert_eq!(
            response.status_code(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}: {}",
            response.text()
        );
        let json: Value = response.json();
        assert_eq!(json["error"], "invalid_payload", "{body}");
        assert!(
            json["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("the webhook payload is not the expected JSON")),
            "{body}: {json}"
        );
        assert!(!json.to_string().contains("world"), "no body echo: {json}");
    }
    assert_eq!(runs.load(Ordering::SeqCst), 0);
}

#[test]
fn rejection_accessors_agree_with_the_documented_statuses() {
    let cases = [
        (WebhookRejection::MissingSignature, 400, "missing_signature"),
        (
            WebhookError::InvalidFormat.into(),
            400,
            "invalid_signature_format",
        ),
        (
            WebhookError::OutsideTolerance.into(),
            400,
            "timestamp_outside_tolerance",
        ),
        (WebhookError::Mismatch.into(), 400, "signature_mismatch"),
        (WebhookError::LogEventBatch.into(), 422, "invalid_payload"),
        (
            WebhookError::Payload { reason: "r".into() }.into(),
            422,
            "invalid_payload",
        ),
        (
            WebhookRejection::PayloadTooLarge { limit: 1 },
            413,
            "payload_too_large",
        ),
        (WebhookRejection::BodyUnreadable, 400, "body_unreadable"),
    ];
    for (rejection, status, code) in cases {
        assert_eq!(rejection.status(), status, "{rejection:?}");
        assert_eq!(rejection.code(), code, "{rejection:?}");
        assert_eq!(rejection.body_text(), rejection.to_string());
    }
}
