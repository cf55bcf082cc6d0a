//! The synchronous webhooks, as Authsignal sends them: `sms.created`, `email.created`
//! and `push.created` must be accepted (2xx) before the message counts as sent, else the
//! challenge fails and the API answers an error; `action.verify` must be accepted before
//! a challenge succeeds, else it does not, and the user may try again. Payloads carry the
//! documented fields and verify with the SDK's verifier.

use std::sync::{Arc, Mutex};

use authsignal::types::{
    ChallengeRequest, EnrollVerifiedAuthenticatorRequest, TrackAttributes, UserActionState,
    VerificationMethod,
};
use authsignal::webhook::WebhookVerifier;
use authsignal_emulator::{ActionConfig, EmulatorHandle, WebhookEndpoint, WebhookSettings};
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use serde_json::{Value, json};

use crate::emulator_util::{builder, client_post, no_retry_client, t0};

const SECRET: &str = "sk_emulator_test";
const PHONE: &str = "+64270000077";
const EMAIL: &str = "jane@example.com";

/// An app's webhook route answering `status`, keeping the (verified) events it got.
#[derive(Clone, Default)]
struct Endpoint {
    status: Arc<Mutex<u16>>,
    events: Arc<Mutex<Vec<Value>>>,
}

impl Endpoint {
    fn answer(&self, status: u16) {
        *self.status.lock().unwrap() = status;
    }

    /// The `(type, data)` of every event received.
    fn received(&self) -> Vec<(String, Value)> {
        self.events
            .lock()
            .unwrap()
            .iter()
            .map(|event| {
                (
                    event["type"].as_str().unwrap().to_owned(),
                    event["data"].clone(),
                )
            })
            .collect()
    }
}

async fn on_event(State(endpoint): State<Endpoint>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let signature = headers
        .get("x-signature-v2")
        .map(|v| v.as_bytes().to_vec())
        .unwrap_or_default();
    if WebhookVerifier::new(SECRET)
        .verify(&signature, &body)
        .is_err()
    {
        return StatusCode::UNAUTHORIZED;
    }
    endpoint
        .events
        .lock()
        .unwrap()
        .push(serde_json::from_slice(&body).unwrap());
    StatusCode::from_u16(*endpoint.status.lock().unwrap()).unwrap()
}

/// An endpoint on a free port, answering 200 until told otherwise; its URL.
async fn endpoint() -> (String, Endpoint) {
    let endpoint = Endpoint::default();
    endpoint.answer(200);
    let app = Router::new()
        .route("/hook", post(on_event))
        .with_state(endpoint.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, endpoint)
}

/// An emulator sending the challenge events to `url`, `withdraw` challenging everyone
/// and `signIn` prompting enrollment.
async fn emulator_with(url: &str, withdraw: ActionConfig) -> EmulatorHandle {
    let emulator = builder()
        .action("withdraw", withdraw)
        .action("signIn", ActionConfig::challenge().prompt_enrollment(true))
        .webhooks(
            WebhookSettings::default().endpoint(WebhookEndpoint::new(url).events([
                "sms.created",
                "email.created",
                "push.created",
            ])),
        )
        .start()
        .await
        .unwrap();
    emulator.set_time(t0());
    emulator
}

async fn enroll_sms(emulator: &EmulatorHandle, user: &str) {
    emulator
        .client()
        .enroll_verified_authenticator(
            user,
            &EnrollVerifiedAuthenticatorRequest {
                phone_number: Some(PHONE.into()),
                ..EnrollVerifiedAuthenticatorRequest::new(VerificationMethod::Sms)
            },
        )
        .await
        .unwrap();
}

async fn tracked(emulator: &EmulatorHandle, user: &str, action: &str) -> (String, String) {
    let tracked = emulator
        .client()
        .track(
            user,
            action,
            TrackAttributes {
                ip_address: Some("198.51.100.7".into()),
                locale: Some("en".into()),
                ..TrackAttributes::default()
            },
        )
        .await
        .unwrap();
    (
        tracked.token.unwrap().into_string(),
        tracked.idempotency_key,
    )
}

#[tokio::test]
async fn a_refused_sms_created_fails_the_challenge_and_sends_nothing() {
    let (url, app) = endpoint().await;
    let emulator = emulator_with(&url, ActionConfig::challenge()).await;
    enroll_sms(&emulator, "u1").await;
    let (token, key) = tracked(&emulator, "u1", "withdraw").await;

    app.answer(500);
    let (status, body) = client_post(&emulator, &token, "/challenge/sms", None).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["errorCode"], "webhook_failed");
    assert!(
        emulator.outbox().is_empty(),
        "a refused message is not sent"
    );
    // The event was offered once, with the code: no retry for a synchronous event.
    let offered = app.received();
    assert_eq!(offered.len(), 1);
    let code = offered[0].1["code"].as_str().unwrap().to_owned();
    let (status, _) = client_post(
        &emulator,
        &token,
        "/verify/sms",
        Some(json!({"verificationCode": code})),
    )
    .await;
    assert_eq!(
        status, 400,
        "the refused code was never sent, so nothing verifies"
    );

    // Accepted: the message is sent, with the documented fields.
    app.answer(204);
    let (status, sent) = client_post(&emulator, &token, "/challenge/sms", None).await;
    assert_eq!(status, 200, "{sent}");
    let (event_type, data) = app.received().pop().unwrap();
    assert_eq!(event_type, "sms.created");
    let code = emulator.last_code_sent_to(PHONE).unwrap();
    assert_eq!(
        data,
        json!({"to": PHONE, "code": code, "userId": "u1", "idempotencyKey": key,
               "actionCode": "withdraw", "locale": "en"})
    );
}

#[tokio::test]
async fn the_server_apis_challenge_fails_as_the_client_apis_does() {
    let (url, app) = endpoint().await;
    let emulator = emulator_with(&url, ActionConfig::challenge()).await;
    app.answer(503);
    let refused = no_retry_client(&emulator)
        .challenge(&ChallengeRequest {
            verification_method: Some(VerificationMethod::Sms),
            phone_number: Some(PHONE.into()),
            ..ChallengeRequest::default()
        })
        .await
        .unwrap_err();
    assert_eq!(refused.status().map(|s| s.as_u16()), Some(400), "{refused}");
    assert_eq!(refused.code(), Some("webhook_failed"));
    assert!(emulator.outbox().is_empty());
}

#[tokio::test]
async fn a_magic_links_email_created_carries_its_url_and_no_code() {
    let (url, app) = endpoint().await;
    let emulator = emulator_with(&url, ActionConfig::challenge()).await;
    let (token, key) = tracked(&emulator, "u1", "signIn").await;
    app.answer(500);
    let (status, body) = client_post(
        &emulator,
        &token,
        "/user-authenticators/email-magic-link",
        Some(json!({"email": EMAIL})),
    )
    .await;
    assert_eq!(
        (status, body["errorCode"].as_str()),
        (400, Some("webhook_failed"))
    );
    assert_eq!(emulator.last_link_sent_to(EMAIL), None);

    app.answer(200);
    let (status, _) = client_post(
        &emulator,
        &token,
        "/user-authenticators/email-magic-link",
        Some(json!({"email": EMAIL})),
    )
    .await;
    assert_eq!(status, 200);
    let (event_type, data) = app.received().pop().unwrap();
    assert_eq!(event_type, "email.created");
    let link = emulator.last_link_sent_to(EMAIL).unwrap();
    assert_eq!(
        data,
        json!({"to": EMAIL, "url": link, "userId": "u1", "idempotencyKey": key,
               "actionCode": "signIn", "ipAddress": "198.51.100.7", "locale": "en"})
    );
}

#[tokio::test]
async fn a_refused_push_created_sends_no_push() {
    let (url, app) = endpoint().await;
    let emulator = emulator_with(&url, ActionConfig::challenge()).await;
    emulator.enroll_push("u1");
    let (token, key) = tracked(&emulator, "u1", "withdraw").await;
    app.answer(404);
    let (status, body) = client_post(
        &emulator,
        &token,
        "/challenge/push",
        Some(json!({"action": "withdraw"})),
    )
    .await;
    assert_eq!(
        (status, body["errorCode"].as_str()),
        (400, Some("webhook_failed"))
    );
    assert!(emulator.pending_pushes().is_empty());

    app.answer(200);
    let (status, sent) = client_post(
        &emulator,
        &token,
        "/challenge/push",
        Some(json!({"action": "withdraw"})),
    )
    .await;
    assert_eq!(status, 200);
    let (event_type, data) = app.received().pop().unwrap();
    assert_eq!(event_type, "push.created");
    assert_eq!(
        data,
        json!({"challengeId": sent["challengeId"], "userId": "u1", "idempotencyKey": key,
               "actionCode": "withdraw", "ipAddress": "198.51.100.7"})
    );
    assert_eq!(emulator.pending_pushes().len(), 1);
}

#[tokio::test]
async fn an_endpoint_that_never_answers_fails_the_challenge_at_the_attempt_timeout() {
    // Accepts the connection and never answers: the attempt's timeout is the answer.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let silent = Router::new().route("/hook", post(std::future::pending::<StatusCode>));
    tokio::spawn(async move { axum::serve(listener, silent).await });
    let emulator = emulator_with(&url, ActionConfig::challenge()).await;
    enroll_sms(&emulator, "u1").await;
    let (token, _) = tracked(&emulator, "u1", "withdraw").await;
    let (status, body) = client_post(&emulator, &token, "/challenge/sms", None).await;
    assert_eq!(
        (status, body["errorCode"].as_str()),
        (400, Some("webhook_failed"))
    );
    assert!(emulator.outbox().is_empty());
    let attempt = emulator
        .calls()
        .into_iter()
        .find_map(|call| call.webhook)
        .expect("one attempt");
    assert_eq!((attempt.attempt, attempt.status), (1, None));
}

#[tokio::test]
async fn an_unreachable_challenge_endpoint_fails_the_challenge() {
    // A port nobody listens on (bound, then closed).
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}/gone", listener.local_addr().unwrap())
    };
    let emulator = emulator_with(&closed, ActionConfig::challenge()).await;
    enroll_sms(&emulator, "u1").await;
    let (token, _) = tracked(&emulator, "u1", "withdraw").await;
    let (status, body) = client_post(&emulator, &token, "/challenge/sms", None).await;
    assert_eq!(
        (status, body["errorCode"].as_str()),
        (400, Some("webhook_failed"))
    );
    assert!(emulator.outbox().is_empty());
}

#[tokio::test]
async fn action_verify_gates_success_and_a_refusal_leaves_the_code_good() {
    let (hooks, _) = endpoint().await;
    let (verify_url, verifier) = endpoint().await;
    let emulator = emulator_with(
        &hooks,
        ActionConfig::challenge().verification_webhook(&verify_url),
    )
    .await;
    enroll_sms(&emulator, "u1").await;
    let (token, key) = tracked(&emulator, "u1", "withdraw").await;
    client_post(&emulator, &token, "/challenge/sms", None).await;
    let code = emulator.last_code_sent_to(PHONE).unwrap();

    // A wrong code asks nothing of the app.
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let (_, failed) = client_post(
        &emulator,
        &token,
        "/verify/sms",
        Some(json!({"verificationCode": wrong})),
    )
    .await;
    assert_eq!(failed["isVerified"], false);
    assert!(verifier.received().is_empty());

    verifier.answer(403);
    let (status, body) = client_post(
        &emulator,
        &token,
        "/verify/sms",
        Some(json!({"verificationCode": code})),
    )
    .await;
    assert_eq!(
        (status, body["errorCode"].as_str()),
        (400, Some("webhook_failed")),
        "{body}"
    );
    assert_eq!(
        emulator.action_state("u1", "withdraw", &key),
        Some(UserActionState::ChallengeRequired)
    );
    let (event_type, data) = verifier.received().pop().unwrap();
    assert_eq!(event_type, "action.verify");
    assert_eq!(
        data,
        json!({"userId": "u1", "action": "withdraw", "idempotencyKey": key,
               "verifiedAt": "2024-06-01T12:00:10.000Z", "state": "CHALLENGE_SUCCEEDED",
               "verificationMethod": "SMS"})
    );

    // Accepted: the same code now succeeds.
    verifier.answer(200);
    let (status, verified) = client_post(
        &emulator,
        &token,
        "/verify/sms",
        Some(json!({"verificationCode": code})),
    )
    .await;
    assert_eq!(
        (status, verified["isVerified"].as_bool()),
        (200, Some(true)),
        "{verified}"
    );
    assert_eq!(
        emulator.action_state("u1", "withdraw", &key),
        Some(UserActionState::ChallengeSucceeded)
    );
    // The tenant's endpoints never get it: it goes to the action's URL only.
    assert_eq!(verifier.received().len(), 2);
}

#[tokio::test]
async fn action_verify_gates_push_and_magic_links_too() {
    let (hooks, _) = endpoint().await;
    let (verify_url, verifier) = endpoint().await;
    let emulator = emulator_with(
        &hooks,
        ActionConfig::challenge().verification_webhook(&verify_url),
    )
    .await;
    emulator.set_action(
        "signIn",
        ActionConfig::challenge()
            .prompt_enrollment(true)
            .verification_webhook(&verify_url),
    );
    let push_id = emulator.enroll_push("u1");
    let (token, key) = tracked(&emulator, "u1", "withdraw").await;
    let (_, sent) = client_post(
        &emulator,
        &token,
        "/challenge/push",
        Some(json!({"action": "withdraw"})),
    )
    .await;
    let challenge_id = sent["challengeId"].as_str().unwrap();
    emulator.answer_push(challenge_id, true);
    verifier.answer(500);
    let verify = || {
        client_post(
            &emulator,
            &token,
            "/verify/push",
            Some(json!({"challengeId": challenge_id})),
        )
    };
    let (status, body) = verify().await;
    assert_eq!(
        (status, body["errorCode"].as_str()),
        (400, Some("webhook_failed"))
    );
    let (_, data) = verifier.received().pop().unwrap();
    assert_eq!(data["verificationMethod"], "PUSH");
    assert_eq!(data["userAuthenticatorId"].as_str(), Some(push_id.as_str()));
    assert_eq!(data["idempotencyKey"].as_str(), Some(key.as_str()));
    verifier.answer(200);
    assert_eq!(verify().await.1["isVerified"], true);

    let (token, _) = tracked(&emulator, "u2", "signIn").await;
    client_post(
        &emulator,
        &token,
        "/user-authenticators/email-magic-link",
        Some(json!({"email": EMAIL})),
    )
    .await;
    reqwest::get(emulator.last_link_sent_to(EMAIL).unwrap())
        .await
        .unwrap();
    verifier.answer(500);
    let finalize = || {
        client_post(
            &emulator,
            &token,
            "/verify/email-magic-link/finalize",
            Some(json!({})),
        )
    };
    let (status, _) = finalize().await;
    assert_eq!(status, 400);
    assert_eq!(
        verifier.received().pop().unwrap().1["verificationMethod"],
        "EMAIL_MAGIC_LINK"
    );
    verifier.answer(200);
    assert_eq!(finalize().await.1["isVerified"], true);
}

#[tokio::test]
async fn action_verify_gates_the_app_the_server_apis_verify_and_the_prebuilt_ui() {
    let (hooks, _) = endpoint().await;
    let (verify_url, verifier) = endpoint().await;
    let emulator = emulator_with(
        &hooks,
        ActionConfig::challenge().verification_webhook(&verify_url),
    )
    .await;
    let app = emulator.enroll_totp("u1");
    verifier.answer(500);

    // The client API's authenticator app.
    let (token, key) = tracked(&emulator, "u1", "withdraw").await;
    let code = emulator.totp_code("u1").unwrap();
    let verify = || {
        client_post(
            &emulator,
            &token,
            "/verify/totp",
            Some(json!({"verificationCode": code})),
        )
    };
    let (status, body) = verify().await;
    assert_eq!(
        (status, body["errorCode"].as_str()),
        (400, Some("webhook_failed"))
    );
    let (_, data) = verifier.received().pop().unwrap();
    assert_eq!(data["verificationMethod"], "AUTHENTICATOR_APP");
    assert_eq!(
        data["userAuthenticatorId"].as_str(),
        Some(app.user_authenticator_id.as_str())
    );
    assert_eq!(
        emulator.action_state("u1", "withdraw", &key),
        Some(UserActionState::ChallengeRequired)
    );
    verifier.answer(200);
    assert_eq!(verify().await.1["isVerified"], true);

    // The Server API's `verify` of a challenge tied to a tracked action.
    verifier.answer(500);
    let (_, key) = tracked(&emulator, "u1", "withdraw").await;
    let client = no_retry_client(&emulator);
    let sent = client
        .challenge(&ChallengeRequest {
            verification_method: Some(VerificationMethod::Sms),
            phone_number: Some(PHONE.into()),
            user_id: Some("u1".into()),
            action: Some("withdraw".into()),
            idempotency_key: Some(key.clone()),
            ..ChallengeRequest::default()
        })
        .await
        .unwrap();
    let request = authsignal::types::VerifyRequest {
        challenge_id: sent.challenge_id.clone(),
        verification_code: emulator.last_code_sent_to(PHONE).unwrap(),
    };
    let refused = client.verify(&request).await.unwrap_err();
    assert_eq!(refused.code(), Some("webhook_failed"));
    assert_eq!(
        emulator.action_state("u1", "withdraw", &key),
        Some(UserActionState::ChallengeRequired)
    );
    verifier.answer(200);
    assert!(client.verify(&request).await.unwrap().is_verified);
    assert_eq!(
        emulator.action_state("u1", "withdraw", &key),
        Some(UserActionState::ChallengeSucceeded)
    );

    // The pre-built UI.
    verifier.answer(500);
    let (token, key) = tracked(&emulator, "u1", "withdraw").await;
    emulator.advance(std::time::Duration::from_secs(30));
    let form = [
        ("token", token.as_str()),
        ("code", &emulator.totp_code("u1").unwrap()),
    ];
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let submit = || {
        http.post(format!("{}/ui/challenge", emulator.origin()))
            .form(&form)
            .send()
    };
    let page = submit().await.unwrap();
    assert_eq!(page.status(), 400);
    assert!(page.text().await.unwrap().contains("action.verify"));
    assert_eq!(
        emulator.action_state("u1", "withdraw", &key),
        Some(UserActionState::ChallengeRequired)
    );
    verifier.answer(200);
    assert_eq!(
        submit().await.unwrap().status(),
        200,
        "verified (no redirect URL)"
    );
    assert_eq!(
        emulator.action_state("u1", "withdraw", &key),
        Some(UserActionState::ChallengeSucceeded)
    );
}

#[tokio::test]
async fn action_verify_gates_passkeys_registration_and_step_up() {
    use crate::passkeys::{
        SoftAuthenticator, add_passkey, authentication_options, registration_options,
        verify_passkey,
    };
    let (hooks, _) = endpoint().await;
    let (verify_url, verifier) = endpoint().await;
    let emulator = emulator_with(
        &hooks,
        ActionConfig::challenge().verification_webhook(&verify_url),
    )
    .await;
    emulator.set_action(
        "signIn",
        ActionConfig::challenge()
            .prompt_enrollment(true)
            .verification_webhook(&verify_url),
    );
    let mut authenticator = SoftAuthenticator::new(7);
    let (token, _) = tracked(&emulator, "u1", "signIn").await;

    // Refused: the passkey is not registered and the action stays as it was.
    verifier.answer(500);
    let options = registration_options(&emulator, &token).await;
    let credential = authenticator.create(&options["options"]);
    let (status, body) = add_passkey(&emulator, &token, &options, credential).await;
    assert_eq!(
        (status, body["errorCode"].as_str()),
        (400, Some("webhook_failed")),
        "{body}"
    );
    let (_, data) = verifier.received().pop().unwrap();
    assert_eq!(data["verificationMethod"], "PASSKEY");
    let listed = emulator.client().get_authenticators("u1").await.unwrap();
    assert!(
        listed.is_empty(),
        "a refused registration registers nothing"
    );

    // Accepted: a new ceremony registers it.
    verifier.answer(200);
    let options = registration_options(&emulator, &token).await;
    let credential = authenticator.create(&options["options"]);
    let (status, body) = add_passkey(&emulator, &token, &options, credential).await;
    assert_eq!(
        (status, body["isVerified"].as_bool()),
        (200, Some(true)),
        "{body}"
    );

    // A step-up: refused, the action is not completed; accepted, it is.
    let (token, key) = tracked(&emulator, "u1", "withdraw").await;
    verifier.answer(500);
    let options = authentication_options(&emulator, &token).await;
    let assertion = authenticator.get(&options["options"], "u1");
    let (status, body) = verify_passkey(&emulator, &token, &options, &assertion).await;
    assert_eq!(
        (status, body["errorCode"].as_str()),
        (400, Some("webhook_failed")),
        "{body}"
    );
    let (_, data) = verifier.received().pop().unwrap();
    assert_eq!(data["verificationMethod"], "PASSKEY");
    assert_eq!(data["idempotencyKey"].as_str(), Some(key.as_str()));
    let action = emulator
        .client()
        .get_action("u1", "withdraw", &key)
        .await
        .unwrap();
    assert_eq!(action.state, UserActionState::ChallengeRequired);
    verifier.answer(200);
    let options = authentication_options(&emulator, &token).await;
    let assertion = authenticator.get(&options["options"], "u1");
    let (status, body) = verify_passkey(&emulator, &token, &options, &assertion).await;
    assert_eq!(
        (status, body["isVerified"].as_bool()),
        (200, Some(true)),
        "{body}"
    );
}
