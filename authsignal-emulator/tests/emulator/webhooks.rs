//! The emulator's webhook events, received by an app's handler with the crate's
//! `VerifiedWebhook`: the documented types and fields, `X-Signature-V2` as the SDKs verify
//! it, and failed deliveries retried a bounded number of times, each attempt in `calls()`.

use crate::emulator_util;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use authsignal::types::{
    ChallengeRequest, EnrollVerifiedAuthenticatorRequest, TrackAttributes, VerificationMethod,
    VerifyRequest,
};
use authsignal_emulator::{
    ActionConfig, EmulatorConfig, EmulatorHandle, WebhookEndpoint, WebhookOutcome, WebhookSettings,
};
use axum::Router;
use axum::extract::{FromRef, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum_authsignal::webhook::{VerifiedWebhook, WebhookPayload, WebhookVerifier};
use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use serde_json::Value;

use crate::emulator_util::{builder, t0};

const SECRET: &str = "sk_emulator_test";

/// A request as it arrived: its `X-Signature-V2` header and raw body.
type RawRequest = (String, Vec<u8>);

/// What the app's webhook route saw.
#[derive(Clone)]
struct Receiver {
    verifier: WebhookVerifier,
    /// Authentic payloads, in arrival order.
    payloads: Arc<Mutex<Vec<WebhookPayload>>>,
    /// The raw signature header and body of every request, authentic or not.
    raw: Arc<Mutex<Vec<RawRequest>>>,
    /// How many requests to fail with 500 before accepting.
    failures_left: Arc<Mutex<u32>>,
}

impl FromRef<Receiver> for WebhookVerifier {
    fn from_ref(receiver: &Receiver) -> Self {
        receiver.verifier.clone()
    }
}

async fn on_webhook(
    State(receiver): State<Receiver>,
    VerifiedWebhook { payload, .. }: VerifiedWebhook,
) -> StatusCode {
    {
        let mut left = receiver.failures_left.lock().unwrap();
        if *left > 0 {
            *left -= 1;
            return StatusCode::INTERNAL_SERVER_ERROR;
        }
    }
    receiver.payloads.lock().unwrap().push(payload);
    StatusCode::OK
}

/// Records the raw request, then lets the verifying route answer it.
async fn raw_then_verify(
    State(receiver): State<Receiver>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> axum::response::Response {
    let header = headers
        .get("x-signature-v2")
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    receiver
        .raw
        .lock()
        .unwrap()
        .push((header.clone(), body.to_vec()));
    let request = http::Request::post("/")
        .header("x-signature-v2", header)
        .body(axum::body::Body::from(body))
        .unwrap();
    let inner = Router::new()
        .route("/", post(on_webhook))
        .with_state(receiver);
    tower::ServiceExt::oneshot(inner, request).await.unwrap()
}

/// An app on a free port verifying with `secret`; its webhook URL and what it saw.
async fn receiver(secret: &str, failures: u32) -> (String, Receiver) {
    let receiver = Receiver {
        verifier: WebhookVerifier::new(secret),
        payloads: Arc::default(),
        raw: Arc::default(),
        failures_left: Arc::new(Mutex::new(failures)),
    };
    let app = Router::new()
        .route("/webhooks/authsignal", post(raw_then_verify))
        .with_state(receiver.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!(
        "http://{}/webhooks/authsignal",
        listener.local_addr().unwrap()
    );
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, receiver)
}

/// An emulator sending every event to `url`, retrying `retries` times 5 ms apart.
async fn sending_to(url: &str, retries: u32) -> EmulatorHandle {
    emulator_sending_to(
        WebhookSettings::default()
            .endpoint(WebhookEndpoint::new(url))
            .retries(retries, Duration::from_millis(5)),
    )
    .await
}

async fn emulator_sending_to(settings: WebhookSettings) -> EmulatorHandle {
    let emulator = builder()
        .action("withdraw", ActionConfig::challenge())
        .webhooks(settings)
        .start()
        .await
        .unwrap();
    emulator.set_time(t0());
    emulator
}

/// Every event and log record received, as (type, data or record).
fn received(receiver: &Receiver) -> Vec<(String, Value)> {
    let mut events = Vec::new();
    for payload in receiver.payloads.lock().unwrap().iter() {
        match payload {
            WebhookPayload::Event(event) => {
                events.push((event.event_type.clone(), event.data.clone()));
            }
            WebhookPayload::LogEventBatch(batch) => {
                for record in &batch.records {
                    events.push((record.event_type.clone(), record.record.clone()));
                }
            }
            other => panic!("an unexpected payload: {other:?}"),
        }
    }
    events
}

fn webhook_attempts(emulator: &EmulatorHandle) -> Vec<(u32, Option<u16>, WebhookOutcome)> {
    emulator
        .calls()
        .into_iter()
        .filter(|call| call.operation == "webhookDelivery")
        .map(|call| {
            let attempt = call.webhook.expect("a delivery has its attempt");
            (attempt.attempt, attempt.status, attempt.outcome)
        })
        .collect()
}

#[tokio::test]
async fn an_sms_challenge_sends_the_documented_events_in_order() {
    let (url, app) = receiver(SECRET, 0).await;
    let emulator = sending_to(&url, 3).await;
    let client = emulator.client();
    let enrolled = client
        .enroll_verified_authenticator(
            "u1",
            &EnrollVerifiedAuthenticatorRequest {
                phone_number: Some("+64270000067".into()),
                ..EnrollVerifiedAuthenticatorRequest::new(VerificationMethod::Sms)
            },
        )
        .await
        .unwrap();
    let tracked = client
        .track(
            "u1",
            "withdraw",
            TrackAttributes {
                ip_address: Some("198.51.100.7".into()),
                locale: Some("en".into()),
                ..TrackAttributes::default()
            },
        )
        .await
        .unwrap();
    let sent = client
        .challenge(&ChallengeRequest {
            verification_method: Some(VerificationMethod::Sms),
            user_id: Some("u1".into()),
            action: Some("withdraw".into()),
            idempotency_key: Some(tracked.idempotency_key.clone()),
            ..ChallengeRequest::default()
        })
        .await
        .unwrap();
    let code = emulator.last_code_sent_to("+64270000067").unwrap();
    let verified = client
        .verify(&VerifyRequest {
            challenge_id: sent.challenge_id.clone(),
            verification_code: code.clone(),
        })
        .await
        .unwrap();
    assert!(verified.is_verified);
    client
        .delete_authenticator("u1", &enrolled.authenticator.user_authenticator_id)
        .await
        .unwrap();
    emulator.webhooks_idle().await;

    let events = received(&app);
    let types: Vec<&str> = events.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(
        types,
        [
            "authenticator.created",
            "sms.created",
            "challenge.log_created",
            "challenge.log_created",
            "action.log_created",
            "authenticator.deleted",
        ]
    );
    let data = |index: usize| &events[index].1;
    assert_eq!(data(0)["userId"], "u1");
    assert_eq!(data(0)["verificationMethod"], "SMS");
    assert_eq!(data(0)["phoneNumber"], "+64270000067");
    assert_eq!(
        data(0)["userAuthenticatorId"].as_str(),
        Some(enrolled.authenticator.user_authenticator_id.as_str())
    );
    // The code to deliver yourself, with the action it is for (and the tracked locale).
    assert_eq!(data(1)["to"], "+64270000067");
    assert_eq!(data(1)["code"].as_str(), Some(code.as_str()));
    assert_eq!(data(1)["actionCode"], "withdraw");
    assert_eq!(
        data(1)["idempotencyKey"].as_str(),
        Some(tracked.idempotency_key.as_str())
    );
    assert_eq!(data(1)["locale"], "en");
    assert_eq!(data(2)["type"], "SMS_SENT");
    assert_eq!(data(3)["type"], "SMS_CODE_VALID");
    assert_eq!(data(4)["state"], "CHALLENGE_SUCCEEDED");
    assert_eq!(data(4)["outcome"], "CHALLENGE");
    assert_eq!(data(4)["verificationMethod"], "SMS");
    assert_eq!(data(4)["ipAddress"], "198.51.100.7");
    assert_eq!(data(4)["tenantId"].as_str(), Some(emulator.tenant_id()));
    assert!(data(5)["deletedAt"].is_string());

    // Every envelope as documented, its time by the emulator's clock.
    for payload in app.payloads.lock().unwrap().iter() {
        if let WebhookPayload::Event(event) = payload {
            assert_eq!(event.version, 1);
            assert_eq!(event.source, "https://authsignal.com");
            assert_eq!(event.tenant_id, emulator.tenant_id());
            assert_eq!(event.time, "2024-06-01T12:00:10.000Z");
        }
    }
    // One attempt each, all delivered: 4 events and 2 log batches (logs queued together
    // travel together).
    let attempts = webhook_attempts(&emulator);
    assert!(
        attempts
            .iter()
            .all(|attempt| *attempt == (1, Some(200), WebhookOutcome::Delivered)),
        "{attempts:?}"
    );
    assert_eq!(attempts.len(), app.raw.lock().unwrap().len());
}

#[tokio::test]
async fn the_signature_is_the_sdks_hmac_of_the_timestamp_and_raw_body() {
    let (url, app) = receiver(SECRET, 0).await;
    let emulator = sending_to(&url, 3).await;
    emulator.enroll_totp("u1");
    emulator.webhooks_idle().await;
    let raw = app.raw.lock().unwrap().clone();
    assert_eq!(raw.len(), 1);
    let (header, body) = &raw[0];
    // As authsignal-node's webhook.ts computes it: t=<s>,v2=<base64 HMAC-SHA256 of
    // "<t>.<body>"> without padding, keyed with the API secret key.
    let (t, v2) = header
        .strip_prefix("t=")
        .and_then(|rest| rest.split_once(",v2="))
        .expect("t=...,v2=...");
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(format!("{t}.").as_bytes());
    mac.update(body);
    let expected =
        base64::engine::general_purpose::STANDARD_NO_PAD.encode(mac.finalize().into_bytes());
    assert_eq!(v2, expected);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let t: u64 = t.parse().unwrap();
    assert!(
        now.abs_diff(t) < 300,
        "signed by the wall clock, not the emulator's"
    );
    assert_eq!(received(&app)[0].0, "authenticator.created");
}

#[tokio::test]
async fn failed_deliveries_are_retried_with_back_off_then_given_up() {
    // Two failures, then accepted: three attempts, the last delivered.
    let (url, app) = receiver(SECRET, 2).await;
    let emulator = sending_to(&url, 3).await;
    emulator.enroll_totp("u1");
    emulator.webhooks_idle().await;
    assert_eq!(
        webhook_attempts(&emulator),
        [
            (1, Some(500), WebhookOutcome::Retrying),
            (2, Some(500), WebhookOutcome::Retrying),
            (3, Some(200), WebhookOutcome::Delivered),
        ]
    );
    assert_eq!(received(&app).len(), 1, "delivered once");
    let call = emulator
        .calls()
        .into_iter()
        .find(|call| call.operation == "webhookDelivery")
        .unwrap();
    assert_eq!(call.path, "/webhooks/authsignal");
    let attempt = call.webhook.unwrap();
    assert_eq!(attempt.event_types, ["authenticator.created"]);
    assert_eq!(attempt.url, url);

    // A receiver that never accepts: the first try and the configured retries, no more.
    let (url, app) = receiver(SECRET, u32::MAX).await;
    let emulator = sending_to(&url, 2).await;
    emulator.enroll_totp("u1");
    emulator.webhooks_idle().await;
    assert_eq!(
        webhook_attempts(&emulator),
        [
            (1, Some(500), WebhookOutcome::Retrying),
            (2, Some(500), WebhookOutcome::Retrying),
            (3, Some(500), WebhookOutcome::GaveUp),
        ]
    );
    assert!(received(&app).is_empty());
}

#[tokio::test]
async fn a_receiver_with_another_secret_rejects_every_delivery() {
    let (url, app) = receiver("another-tenant-secret", 0).await;
    let emulator = sending_to(&url, 1).await;
    emulator.enroll_totp("u1");
    emulator.webhooks_idle().await;
    assert!(
        received(&app).is_empty(),
        "a forged signature never verifies"
    );
    assert_eq!(
        webhook_attempts(&emulator),
        [
            (1, Some(400), WebhookOutcome::Retrying),
            (2, Some(400), WebhookOutcome::GaveUp),
        ]
    );
}

#[tokio::test]
async fn an_unreachable_endpoint_has_no_status_and_others_still_get_their_events() {
    // A port nobody listens on (bound, then closed).
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}/gone", listener.local_addr().unwrap())
    };
    let (url, app) = receiver(SECRET, 0).await;
    // The closed one takes no challenge event: an `sms.created` it cannot take fails the
    // challenge (see `webhooks_synchronous`).
    let emulator = emulator_sending_to(
        WebhookSettings::default()
            .endpoint(WebhookEndpoint::new(&closed).events(["authenticator.created"]))
            .endpoint(WebhookEndpoint::new(&url).events(["sms.created"]))
            .retries(1, Duration::from_millis(5)),
    )
    .await;
    emulator.enroll_totp("u1");
    emulator
        .client()
        .challenge(&ChallengeRequest {
            verification_method: Some(VerificationMethod::Sms),
            phone_number: Some("+64270000067".into()),
            ..ChallengeRequest::default()
        })
        .await
        .unwrap();
    emulator.webhooks_idle().await;
    // The filtered endpoint got its one type; the closed one was tried and given up.
    let types: Vec<String> = received(&app).into_iter().map(|(t, _)| t).collect();
    assert_eq!(types, ["sms.created"]);
    let to_closed: Vec<(u32, Option<u16>, WebhookOutcome)> = emulator
        .calls()
        .into_iter()
        .filter_map(|call| call.webhook)
        .filter(|attempt| attempt.url == closed)
        .map(|attempt| (attempt.attempt, attempt.status, attempt.outcome))
        .collect();
    // Its one event (the app's enrollment), tried twice.
    assert_eq!(
        to_closed,
        [
            (1, None, WebhookOutcome::Retrying),
            (2, None, WebhookOutcome::GaveUp),
        ]
    );
}

#[tokio::test]
async fn webhooks_come_from_the_configuration_file_and_typos_are_refused() {
    let (url, app) = receiver(SECRET, 0).await;
    let config = EmulatorConfig::from_json(&format!(
        r#"{{"webhooks": {{"endpoints": [{{"url": "{url}", "events": ["authenticator.created"]}}],
              "maxRetries": 1, "firstBackoffMillis": 5}}}}"#
    ))
    .unwrap();
    let emulator = builder().config(config).start().await.unwrap();
    emulator.enroll_totp("u1");
    emulator.webhooks_idle().await;
    assert_eq!(received(&app).len(), 1);

    for bad in [
        r#"{"webhooks": {"endpoints": [{"url": "http://127.0.0.1:9/x", "events": ["authenticator.create"]}]}}"#,
        r#"{"webhooks": {"endpoints": [{"url": "ftp://127.0.0.1/x"}]}}"#,
        r#"{"webhooks": {"endpoints": [{"url": "not a url"}]}}"#,
    ] {
        let config = EmulatorConfig::from_json(bad).unwrap();
        let err = builder().config(config).start().await.unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput, "{bad}");
    }
    // Without endpoints nothing is sent, and waiting for webhooks returns at once.
    let quiet = builder().start().await.unwrap();
    quiet.enroll_totp("u1");
    quiet.webhooks_idle().await;
    assert!(quiet.calls().iter().all(|call| call.webhook.is_none()));
}

#[tokio::test]
async fn the_client_apis_email_codes_send_the_same_events() {
    let (url, app) = receiver(SECRET, 0).await;
    let emulator = sending_to(&url, 3).await;
    let tracked = emulator
        .client()
        .track("u1", "withdraw", TrackAttributes::default())
        .await
        .unwrap();
    let token = tracked.token.unwrap().into_string();
    // An unenrolled user enrolls an email authenticator through the Web SDK's routes.
    let (status, _) = emulator_util::client_post(
        &emulator,
        &token,
        "/user-authenticators/email-otp",
        Some(serde_json::json!({"email": "u1@example.com"})),
    )
    .await;
    assert_eq!(status, 200);
    let code = emulator.last_code_sent_to("u1@example.com").unwrap();
    let (status, verified) = emulator_util::client_post(
        &emulator,
        &token,
        "/verify/email-otp",
        Some(serde_json::json!({"verificationCode": code})),
    )
    .await;
    assert_eq!(
        (status, verified["isVerified"].as_bool()),
        (200, Some(true))
    );
    emulator.webhooks_idle().await;
    let events = received(&app);
    let types: Vec<&str> = events.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(
        types,
        [
            "action.log_created",
            "email.created",
            "challenge.log_created",
            "challenge.log_created",
            "authenticator.created",
            "action.log_created",
        ]
    );
    assert_eq!(events[1].1["code"].as_str(), Some(code.as_str()));
    assert_eq!(events[3].1["type"], "EMAIL_OTP_CODE_VALID");
    assert_eq!(events[4].1["email"], "u1@example.com");
    assert_eq!(events[5].1["state"], "CHALLENGE_SUCCEEDED");
}
