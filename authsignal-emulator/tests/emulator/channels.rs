//! The client API's WhatsApp codes, email magic links and push, called as the Web SDK
//! calls them (`whatsapp.challenge/verify`, `emailML.enroll/challenge/
//! checkVerificationStatus`, `push.challenge/verify`), with the emulator acting as the
//! phone and the inbox: each completes only the token's own action, once, and validates
//! with its own `verificationMethod`.

use std::time::Duration;

use authsignal::types::{
    EnrollVerifiedAuthenticatorRequest, UserActionState, ValidateChallengeRequest,
    VerificationMethod,
};
use authsignal_emulator::{ActionConfig, CODE_LIFETIME, EmulatorHandle};
use serde_json::{Value, json};

use crate::emulator_util::{builder, client_post, raw, start, t0, track};

const PHONE: &str = "+64270000099";
const EMAIL: &str = "jane@example.com";

async fn token_for(emulator: &EmulatorHandle, user: &str, action: &str) -> String {
    track(emulator, user, action, None)
        .await
        .token
        .unwrap()
        .into_string()
}

async fn enroll_whatsapp(emulator: &EmulatorHandle, user: &str) {
    emulator
        .client()
        .enroll_verified_authenticator(
            user,
            &EnrollVerifiedAuthenticatorRequest {
                phone_number: Some(PHONE.into()),
                ..EnrollVerifiedAuthenticatorRequest::new(VerificationMethod::Whatsapp)
            },
        )
        .await
        .unwrap();
}

/// `/validate` of `token` for `user` and `action`: `(isValid, verificationMethod)`.
async fn validated(
    emulator: &EmulatorHandle,
    token: &str,
    user: &str,
    action: &str,
) -> (bool, Option<VerificationMethod>) {
    let validation = emulator
        .client()
        .validate_challenge(&ValidateChallengeRequest {
            token: token.into(),
            user_id: Some(user.into()),
            action: Some(action.into()),
        })
        .await
        .unwrap();
    (validation.is_valid, validation.verification_method)
}

/// `GET` of a page (a magic link); its status and body.
async fn open(url: &str) -> (u16, String) {
    let response = reqwest::get(url).await.unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

fn is_error(body: &Value, status: u16, expected: u16) -> bool {
    status == expected && body["errorCode"].is_string() && body["error"].is_string()
}

// ---- WhatsApp ------------------------------------------------------------------------

#[tokio::test]
async fn a_whatsapp_code_from_the_outbox_verifies_as_whatsapp() {
    let emulator = start().await;
    enroll_whatsapp(&emulator, "u1").await;
    let token = token_for(&emulator, "u1", "withdraw").await;

    // Nothing sent yet: nothing to verify.
    let (status, body) = client_post(
        &emulator,
        &token,
        "/verify/whatsapp",
        Some(json!({"verificationCode": "123456"})),
    )
    .await;
    assert!(is_error(&body, status, 400), "{status} {body}");

    let (status, sent) = client_post(&emulator, &token, "/challenge/whatsapp", None).await;
    assert_eq!(status, 200, "{sent}");
    let message = emulator.outbox().pop().unwrap();
    assert_eq!(message.verification_method, VerificationMethod::Whatsapp);
    assert_eq!(message.to, PHONE);
    assert_eq!(
        sent["challengeId"].as_str(),
        Some(message.challenge_id.as_str())
    );

    let wrong = if message.code == "000000" {
        "111111"
    } else {
        "000000"
    };
    let (_, failed) = client_post(
        &emulator,
        &token,
        "/verify/whatsapp",
        Some(json!({"verificationCode": wrong})),
    )
    .await;
    assert_eq!(failed["isVerified"], false);
    assert_eq!(failed["failureReason"], "CODE_INVALID_OR_EXPIRED");
    // The WhatsApp code is no SMS code: the SMS route has none for this action.
    let (status, _) = client_post(
        &emulator,
        &token,
        "/verify/sms",
        Some(json!({"verificationCode": message.code})),
    )
    .await;
    assert_eq!(status, 400);

    let (status, verified) = client_post(
        &emulator,
        &token,
        "/verify/whatsapp",
        Some(json!({"verificationCode": message.code})),
    )
    .await;
    assert_eq!(
        (status, verified["isVerified"].as_bool()),
        (200, Some(true))
    );
    let access = verified["accessToken"].as_str().unwrap();
    assert_eq!(
        validated(&emulator, access, "u1", "withdraw").await,
        (true, Some(VerificationMethod::Whatsapp))
    );
    // Used once.
    let (_, again) = client_post(
        &emulator,
        &token,
        "/verify/whatsapp",
        Some(json!({"verificationCode": message.code})),
    )
    .await;
    assert_eq!(again["isVerified"], false);
}

#[tokio::test]
async fn a_user_without_whatsapp_gets_no_whatsapp_code() {
    let emulator = start().await;
    emulator.enroll_totp("u1");
    let token = token_for(&emulator, "u1", "withdraw").await;
    let (status, body) = client_post(&emulator, &token, "/challenge/whatsapp", None).await;
    assert!(is_error(&body, status, 400), "{status} {body}");
    assert!(emulator.outbox().is_empty());
}

// ---- Email magic link ----------------------------------------------------------------

/// An emulator whose `signIn` challenges everyone, enrolled or not.
async fn prompting() -> EmulatorHandle {
    let emulator = builder()
        .action("signIn", ActionConfig::challenge().prompt_enrollment(true))
        .action("withdraw", ActionConfig::challenge())
        .start()
        .await
        .unwrap();
    emulator.set_time(t0());
    emulator
}

#[tokio::test]
async fn a_magic_link_is_followed_once_then_finalized_once_by_the_tokens_holder() {
    let emulator = prompting().await;
    let token = token_for(&emulator, "u1", "signIn").await;

    // Finalizing before any link was sent is an error, not an endless wait.
    let (status, body) = client_post(
        &emulator,
        &token,
        "/verify/email-magic-link/finalize",
        Some(json!({})),
    )
    .await;
    assert!(is_error(&body, status, 400), "{status} {body}");

    let (status, enrolled) = client_post(
        &emulator,
        &token,
        "/user-authenticators/email-magic-link",
        Some(json!({"email": EMAIL})),
    )
    .await;
    assert_eq!(status, 200, "{enrolled}");
    assert_eq!(enrolled["userId"], "u1");
    assert!(enrolled["userAuthenticatorId"].is_string());
    let message = emulator.outbox().pop().unwrap();
    assert_eq!(
        message.verification_method,
        VerificationMethod::EmailMagicLink
    );
    assert_eq!(
        enrolled["challengeId"].as_str(),
        Some(message.challenge_id.as_str())
    );
    assert_eq!(message.code, "", "a link's secret is in the link only");
    assert_eq!(emulator.last_code_sent_to(EMAIL), None);
    let link = emulator.last_link_sent_to(EMAIL).unwrap();
    assert!(link.starts_with(&format!("{}/ui/magic-link?token=", emulator.origin())));

    // Not followed yet: the SDK polls.
    let (status, waiting) = client_post(
        &emulator,
        &token,
        "/verify/email-magic-link/finalize",
        Some(json!({})),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(waiting, json!({"isVerified": false}));

    // The secret is the link's: a guess or a changed one is refused.
    let (status, page) = open(&format!("{link}x")).await;
    assert_eq!(status, 400, "{page}");
    let (status, page) = open(&format!("{}/ui/magic-link?token=", emulator.origin())).await;
    assert_eq!(status, 400, "{page}");

    // A mail scanner's HEAD follows nothing: the link is still good for the person.
    let head = reqwest::Client::new().head(&link).send().await.unwrap();
    assert_eq!(head.status(), 200);
    let (status, waiting) = client_post(
        &emulator,
        &token,
        "/verify/email-magic-link/finalize",
        Some(json!({})),
    )
    .await;
    assert_eq!((status, waiting), (200, json!({"isVerified": false})));
    let (status, page) = open(&link).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains(r#"id="message""#));
    assert!(!page.contains("eyJ"), "the page hands out no token");
    let (status, _) = open(&link).await;
    assert_eq!(status, 400, "a link is followed once");

    let (status, verified) = client_post(
        &emulator,
        &token,
        "/verify/email-magic-link/finalize",
        Some(json!({})),
    )
    .await;
    assert_eq!(
        (status, verified["isVerified"].as_bool()),
        (200, Some(true)),
        "{verified}"
    );
    assert_eq!(
        verified["userAuthenticator"]["verificationMethod"],
        "EMAIL_MAGIC_LINK"
    );
    let access = verified["accessToken"].as_str().unwrap().to_owned();
    assert_eq!(
        validated(&emulator, &access, "u1", "signIn").await,
        (true, Some(VerificationMethod::EmailMagicLink))
    );
    let (status, _) = client_post(
        &emulator,
        &token,
        "/verify/email-magic-link/finalize",
        Some(json!({})),
    )
    .await;
    assert_eq!(status, 400, "a followed link completes its action once");

    // Enrolled now: a later action challenges the same inbox.
    let next = token_for(&emulator, "u1", "withdraw").await;
    let (status, sent) = client_post(&emulator, &next, "/challenge/email-magic-link", None).await;
    assert_eq!(status, 200, "{sent}");
    assert_ne!(emulator.last_link_sent_to(EMAIL).unwrap(), link);
}

#[tokio::test]
async fn a_magic_link_completes_only_its_own_action_and_is_no_code() {
    let emulator = prompting().await;
    let first = token_for(&emulator, "u1", "signIn").await;
    client_post(
        &emulator,
        &first,
        "/user-authenticators/email-magic-link",
        Some(json!({"email": EMAIL})),
    )
    .await;
    let message = emulator.outbox().pop().unwrap();
    let link = message.link.clone().unwrap();
    assert_eq!(open(&link).await.0, 200);

    // Another action of the same user, tracked meanwhile: no link of its own.
    let other = token_for(&emulator, "u1", "signIn").await;
    let (status, body) = client_post(
        &emulator,
        &other,
        "/verify/email-magic-link/finalize",
        Some(json!({})),
    )
    .await;
    assert!(is_error(&body, status, 400), "{status} {body}");

    // The Server API's `verify` takes typed codes only: a link's challenge id with an
    // empty (or any) code is not found.
    let (status, _) = raw(
        &emulator,
        reqwest::Method::POST,
        "/verify",
        Some(&json!({"challengeId": message.challenge_id, "verificationCode": ""}).to_string()),
    )
    .await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn an_expired_magic_link_is_refused() {
    let emulator = prompting().await;
    let token = token_for(&emulator, "u1", "signIn").await;
    client_post(
        &emulator,
        &token,
        "/user-authenticators/email-magic-link",
        Some(json!({"email": EMAIL})),
    )
    .await;
    let link = emulator.last_link_sent_to(EMAIL).unwrap();
    emulator.advance(CODE_LIFETIME - Duration::from_secs(1));
    let late = token_for(&emulator, "u1", "signIn").await;
    emulator.advance(Duration::from_secs(1));
    assert_eq!(open(&link).await.0, 400, "expired");
    // Nor can the user ask for it again with the old token: it expired with the link.
    let (status, _) = client_post(
        &emulator,
        &token,
        "/verify/email-magic-link/finalize",
        Some(json!({})),
    )
    .await;
    assert_eq!(status, 401);
    // A new link for a newer action works.
    client_post(
        &emulator,
        &late,
        "/user-authenticators/email-magic-link",
        Some(json!({"email": EMAIL})),
    )
    .await;
    assert_eq!(
        open(&emulator.last_link_sent_to(EMAIL).unwrap()).await.0,
        200
    );
}

#[tokio::test]
async fn a_bad_magic_link_enrollment_is_a_clear_400() {
    let emulator = prompting().await;
    let token = token_for(&emulator, "u1", "signIn").await;
    for body in [
        json!({"email": "not-an-address"}),
        json!({}),
        json!({"email": 5}),
    ] {
        let (status, answer) = client_post(
            &emulator,
            &token,
            "/user-authenticators/email-magic-link",
            Some(body.clone()),
        )
        .await;
        assert!(is_error(&answer, status, 400), "{body}: {status} {answer}");
    }
    assert!(emulator.outbox().is_empty());
}

// ---- Push ----------------------------------------------------------------------------

#[tokio::test]
async fn an_approved_push_completes_its_action_once() {
    let emulator = start().await;
    emulator.enroll_push("u1");
    let token = token_for(&emulator, "u1", "withdraw").await;
    let (status, sent) = client_post(
        &emulator,
        &token,
        "/challenge/push",
        Some(json!({"action": "withdraw"})),
    )
    .await;
    assert_eq!(status, 200, "{sent}");
    let challenge_id = sent["challengeId"].as_str().unwrap().to_owned();
    let pending = emulator.pending_pushes();
    assert_eq!(pending.len(), 1);
    assert_eq!(
        (
            pending[0].challenge_id.as_str(),
            pending[0].user_id.as_str(),
            pending[0].action.as_str()
        ),
        (challenge_id.as_str(), "u1", "withdraw")
    );

    let verify = || {
        client_post(
            &emulator,
            &token,
            "/verify/push",
            Some(json!({"challengeId": challenge_id})),
        )
    };
    let (status, waiting) = verify().await;
    assert_eq!(status, 200);
    assert_eq!(waiting, json!({"isVerified": false, "isConsumed": false}));

    assert!(emulator.answer_push(&challenge_id, true));
    assert!(!emulator.answer_push(&challenge_id, false), "answered once");
    assert!(emulator.pending_pushes().is_empty());
    let (status, verified) = verify().await;
    assert_eq!(status, 200, "{verified}");
    assert_eq!(verified["isVerified"], true);
    assert_eq!(verified["isConsumed"], true);
    let access = verified["accessToken"].as_str().unwrap().to_owned();
    assert_eq!(
        validated(&emulator, &access, "u1", "withdraw").await,
        (true, Some(VerificationMethod::Push))
    );
    let (status, _) = verify().await;
    assert_eq!(status, 400, "an approval completes its action once");
}

#[tokio::test]
async fn a_denied_push_fails_the_action() {
    let emulator = start().await;
    emulator.enroll_push("u1");
    let tracked = track(&emulator, "u1", "withdraw", None).await;
    let token = tracked.token.unwrap().into_string();
    let (_, sent) = client_post(
        &emulator,
        &token,
        "/challenge/push",
        Some(json!({"action": "withdraw"})),
    )
    .await;
    let challenge_id = sent["challengeId"].as_str().unwrap();
    assert!(emulator.answer_push(challenge_id, false));
    let (status, refused) = client_post(
        &emulator,
        &token,
        "/verify/push",
        Some(json!({"challengeId": challenge_id})),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(refused, json!({"isVerified": false, "isConsumed": true}));
    assert_eq!(
        emulator.action_state("u1", "withdraw", &tracked.idempotency_key),
        Some(UserActionState::ChallengeFailed)
    );
}

#[tokio::test]
async fn a_push_answers_only_its_own_action_and_expires() {
    let emulator = start().await;
    emulator.enroll_push("u1");
    let token = token_for(&emulator, "u1", "withdraw").await;
    let other = token_for(&emulator, "u1", "withdraw").await;

    // The SDK's `action` must be the token's.
    let (status, body) = client_post(
        &emulator,
        &token,
        "/challenge/push",
        Some(json!({"action": "transfer"})),
    )
    .await;
    assert!(is_error(&body, status, 400), "{status} {body}");
    // And it is required.
    let (status, body) = client_post(&emulator, &token, "/challenge/push", Some(json!({}))).await;
    assert!(is_error(&body, status, 400), "{status} {body}");

    let (_, sent) = client_post(
        &emulator,
        &token,
        "/challenge/push",
        Some(json!({"action": "withdraw"})),
    )
    .await;
    let challenge_id = sent["challengeId"].as_str().unwrap();
    assert!(emulator.answer_push(challenge_id, true));
    // Another action's token cannot collect this approval.
    let (status, body) = client_post(
        &emulator,
        &other,
        "/verify/push",
        Some(json!({"challengeId": challenge_id})),
    )
    .await;
    assert!(is_error(&body, status, 400), "{status} {body}");

    // Unanswered past its lifetime: the phone can no longer answer it (and the token
    // that asked, as long-lived as the push, has expired with it).
    let (_, sent) = client_post(
        &emulator,
        &other,
        "/challenge/push",
        Some(json!({"action": "withdraw"})),
    )
    .await;
    let late = sent["challengeId"].as_str().unwrap();
    emulator.advance(CODE_LIFETIME);
    assert!(!emulator.answer_push(late, true));
    assert!(emulator.pending_pushes().is_empty());
    let (status, expired) = client_post(
        &emulator,
        &other,
        "/verify/push",
        Some(json!({"challengeId": late})),
    )
    .await;
    assert_eq!(
        (status, expired["errorCode"].as_str()),
        (401, Some("expired_token"))
    );
}

#[tokio::test]
async fn a_user_without_push_gets_no_push() {
    let emulator = start().await;
    emulator.enroll_totp("u1");
    let token = token_for(&emulator, "u1", "withdraw").await;
    let (status, body) = client_post(
        &emulator,
        &token,
        "/challenge/push",
        Some(json!({"action": "withdraw"})),
    )
    .await;
    assert!(is_error(&body, status, 400), "{status} {body}");
    assert!(emulator.pending_pushes().is_empty());
}

#[tokio::test]
async fn the_phone_over_http_needs_the_secret() {
    let emulator = start().await;
    let (status, enrolled) = raw(
        &emulator,
        reqwest::Method::POST,
        "/emulator/push-authenticators",
        Some(r#"{"userId": "u1"}"#),
    )
    .await;
    assert_eq!(status, 200, "{enrolled}");
    assert!(enrolled["userAuthenticatorId"].is_string());
    let token = token_for(&emulator, "u1", "withdraw").await;
    let (_, sent) = client_post(
        &emulator,
        &token,
        "/challenge/push",
        Some(json!({"action": "withdraw"})),
    )
    .await;
    let challenge_id = sent["challengeId"].as_str().unwrap();

    let (status, pending) = raw(&emulator, reqwest::Method::GET, "/emulator/push", None).await;
    assert_eq!(status, 200);
    assert_eq!(pending[0]["challengeId"].as_str(), Some(challenge_id));
    assert_eq!(pending[0]["sentAt"], "2024-06-01T12:00:10.000Z");

    // Without the secret, neither the list nor an answer.
    let http = reqwest::Client::new();
    let unauthenticated = http
        .post(format!(
            "{}/emulator/push/{challenge_id}",
            emulator.api_url()
        ))
        .json(&json!({"approve": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(unauthenticated.status(), 401);
    let listing = http
        .get(format!("{}/emulator/push", emulator.api_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(listing.status(), 401);

    let path = format!("/emulator/push/{challenge_id}");
    let (status, body) = raw(
        &emulator,
        reqwest::Method::POST,
        &path,
        Some(r#"{"approve": "yes"}"#),
    )
    .await;
    assert!(is_error(&body, status, 400), "{status} {body}");
    let (status, body) = raw(
        &emulator,
        reqwest::Method::POST,
        &path,
        Some(r#"{"approve": true}"#),
    )
    .await;
    assert_eq!((status, body), (200, json!({"answered": true})));
    let (status, body) = raw(
        &emulator,
        reqwest::Method::POST,
        &path,
        Some(r#"{"approve": true}"#),
    )
    .await;
    assert!(
        is_error(&body, status, 400),
        "answered once: {status} {body}"
    );
    let (_, verified) = client_post(
        &emulator,
        &token,
        "/verify/push",
        Some(json!({"challengeId": challenge_id})),
    )
    .await;
    assert_eq!(verified["isVerified"], true);
}
