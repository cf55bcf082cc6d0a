//! The pre-built UI, driven with plain HTTP as a browser would: open the track `url`, post
//! codes, follow the 303 back to the app with a token that validates.

use authsignal::types::{UserActionState, ValidateChallengeRequest, VerificationMethod};
use authsignal_emulator::{ActionConfig, EmulatorHandle, MAX_ATTEMPTS, TOKEN_LIFETIME};
use reqwest::redirect::Policy;

use crate::emulator_util::{builder, start, t0, track, wrong_code};

fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .unwrap()
}

/// GET a page: status and HTML.
async fn open(url: &str) -> (u16, String) {
    let response = browser().get(url).send().await.unwrap();
    let status = response.status().as_u16();
    assert_eq!(
        response.headers()["cache-control"],
        "no-store",
        "pages carry tokens: never cached"
    );
    (status, response.text().await.unwrap())
}

/// POST the form: the response (redirects not followed).
async fn submit(emulator: &EmulatorHandle, token: &str, code: &str) -> reqwest::Response {
    browser()
        .post(format!("{}/ui/challenge", emulator.origin()))
        .form(&[("token", token), ("code", code)])
        .send()
        .await
        .unwrap()
}

/// The text of the element with `id`, assuming it holds no markup.
fn element_text<'a>(html: &'a str, id: &str) -> Option<&'a str> {
    let start = html.find(&format!(r#"id="{id}""#))?;
    let open_end = start + html[start..].find('>')? + 1;
    let close = open_end + html[open_end..].find('<')?;
    Some(&html[open_end..close])
}

fn token_of(url: &str) -> String {
    let url = reqwest::Url::parse(url).unwrap();
    url.query_pairs()
        .find(|(name, _)| name == "token")
        .map(|(_, value)| value.into_owned())
        .expect("a token in the URL")
}

#[tokio::test]
async fn wrong_code_then_right_code_redirects_with_a_token_that_validates() {
    let emulator = start().await;
    emulator.enroll_totp("u1");
    let tracked = track(
        &emulator,
        "u1",
        "withdraw",
        Some("https://app.example/withdraw/done?id=7"),
    )
    .await;
    let url = tracked.url.clone().unwrap();

    let (status, page) = open(&url).await;
    assert_eq!(status, 200);
    for id in ["code", "verify", "challenge-form"] {
        assert!(
            page.contains(&format!(r#"id="{id}""#)),
            "no #{id} in {page}"
        );
    }
    assert!(
        !page.contains(r#"id="totp-secret""#),
        "an enrolled user is not shown a key"
    );
    let token = token_of(&url);

    let wrong = submit(&emulator, &token, &wrong_code(&emulator, "u1")).await;
    assert_eq!(wrong.status().as_u16(), 400);
    let page = wrong.text().await.unwrap();
    let error = element_text(&page, "error").expect("an error is shown");
    assert!(
        error.contains(&format!(
            "{} of {MAX_ATTEMPTS} attempts left",
            MAX_ATTEMPTS - 1
        )),
        "{error}"
    );
    assert!(page.contains(r#"id="code""#), "the form is shown again");

    let right = submit(&emulator, &token, &emulator.totp_code("u1").unwrap()).await;
    assert_eq!(right.status().as_u16(), 303);
    let location = right.headers()["location"].to_str().unwrap().to_owned();
    assert!(
        location.starts_with("https://app.example/withdraw/done?id=7&token=eyJ"),
        "{location}"
    );
    let returned = token_of(&location);
    let validated = emulator
        .client()
        .validate_challenge(&ValidateChallengeRequest {
            token: returned.into(),
            user_id: Some("u1".into()),
            action: Some("withdraw".into()),
        })
        .await
        .unwrap();
    assert!(validated.is_valid);
    assert_eq!(validated.idempotency_key, Some(tracked.idempotency_key));
    assert_eq!(
        validated.verification_method,
        Some(VerificationMethod::AuthenticatorApp)
    );

    // Opening the link again says it is done rather than offering the form.
    let (status, page) = open(&url).await;
    assert_eq!(status, 200);
    assert!(element_text(&page, "success").is_some(), "{page}");
    assert!(!page.contains(r#"id="code""#));
}

#[tokio::test]
async fn a_redirect_url_without_a_query_gets_a_question_mark() {
    let emulator = start().await;
    emulator.enroll_totp("u1");
    let tracked = track(
        &emulator,
        "u1",
        "withdraw",
        Some("http://localhost:3000/done"),
    )
    .await;
    let token = token_of(&tracked.url.unwrap());
    let right = submit(&emulator, &token, &emulator.totp_code("u1").unwrap()).await;
    let location = right.headers()["location"].to_str().unwrap();
    assert!(
        location.starts_with("http://localhost:3000/done?token=eyJ"),
        "{location}"
    );
}

#[tokio::test]
async fn an_unenrolled_user_enrolls_on_the_page() {
    let emulator = builder()
        .action("signIn", ActionConfig::challenge().prompt_enrollment(true))
        .start()
        .await
        .unwrap();
    emulator.set_time(t0());
    let tracked = track(
        &emulator,
        "new:user",
        "signIn",
        Some("https://app.example/"),
    )
    .await;
    assert_eq!(tracked.state, UserActionState::ChallengeRequired);
    let (status, page) = open(tracked.url.as_deref().unwrap()).await;
    assert_eq!(status, 200);
    let secret = element_text(&page, "totp-secret")
        .expect("the key is shown")
        .to_owned();
    let uri = element_text(&page, "totp-uri").expect("the URI is shown");
    // The URI is escaped into the page; its colon-bearing account is percent-encoded.
    assert!(
        uri.starts_with("otpauth://totp/Authsignal%20Emulator:new%3Auser?secret="),
        "{uri}"
    );
    assert!(uri.contains(&format!("secret={secret}&amp;")), "{uri}");
    assert_eq!(secret.len(), 32);

    // Reloading shows the same key: the enrollment in progress is kept.
    let (_, again) = open(tracked.url.as_deref().unwrap()).await;
    assert_eq!(element_text(&again, "totp-secret"), Some(secret.as_str()));
    assert!(
        emulator
            .client()
            .get_authenticators("new:user")
            .await
            .unwrap()
            .is_empty()
    );

    // The code of the app the user just set up completes the enrollment and the challenge.
    let code = emulator
        .totp_code("new:user")
        .expect("the enrollment in progress has codes");
    let right = submit(&emulator, &token_of(tracked.url.as_deref().unwrap()), &code).await;
    assert_eq!(right.status().as_u16(), 303);
    let authenticators = emulator
        .client()
        .get_authenticators("new:user")
        .await
        .unwrap();
    assert_eq!(authenticators.len(), 1);
    assert_eq!(
        authenticators[0].verification_method,
        Some(VerificationMethod::AuthenticatorApp)
    );
    assert!(
        emulator
            .client()
            .get_user("new:user")
            .await
            .unwrap()
            .is_enrolled
    );
}

#[tokio::test]
async fn the_attempt_limit_fails_the_challenge() {
    let emulator = start().await;
    emulator.enroll_totp("u1");
    let tracked = track(&emulator, "u1", "withdraw", Some("https://app.example/")).await;
    let token = token_of(tracked.url.as_deref().unwrap());
    let wrong = wrong_code(&emulator, "u1");
    for attempt in 1..=MAX_ATTEMPTS {
        let response = submit(&emulator, &token, &wrong).await;
        assert_eq!(response.status().as_u16(), 400);
        let page = response.text().await.unwrap();
        let error = element_text(&page, "error").unwrap().to_owned();
        if attempt < MAX_ATTEMPTS {
            assert!(page.contains(r#"id="code""#));
        } else {
            assert!(error.contains("Too many wrong codes"), "{error}");
            assert!(!page.contains(r#"id="code""#), "no form after the limit");
        }
    }
    assert_eq!(
        emulator.action_state("u1", "withdraw", &tracked.idempotency_key),
        Some(UserActionState::ChallengeFailed)
    );
    // Even the right code is refused now, and the link says why.
    let right = submit(&emulator, &token, &emulator.totp_code("u1").unwrap()).await;
    assert_eq!(right.status().as_u16(), 400);
    let (status, page) = open(tracked.url.as_deref().unwrap()).await;
    assert_eq!(status, 200);
    assert!(
        element_text(&page, "error")
            .unwrap()
            .contains("Too many wrong codes")
    );
}

#[tokio::test]
async fn expired_or_bad_links_and_forms_are_400_pages() {
    let emulator = start().await;
    emulator.enroll_totp("u1");
    let tracked = track(&emulator, "u1", "withdraw", None).await;
    let url = tracked.url.unwrap();
    let (status, page) = open(&format!("{}/ui/challenge?token=junk", emulator.origin())).await;
    assert_eq!(status, 400);
    assert!(element_text(&page, "error").unwrap().contains("not valid"));
    let (status, _) = open(&format!("{}/ui/challenge", emulator.origin())).await;
    assert_eq!(status, 400);
    emulator.advance(TOKEN_LIFETIME);
    let (status, page) = open(&url).await;
    assert_eq!(status, 400);
    assert!(element_text(&page, "error").unwrap().contains("expired"));
    let incomplete = browser()
        .post(format!("{}/ui/challenge", emulator.origin()))
        .form(&[("code", "123456")])
        .send()
        .await
        .unwrap();
    assert_eq!(incomplete.status().as_u16(), 400);
}

#[tokio::test]
async fn without_a_redirect_url_the_page_shows_the_token() {
    let emulator = start().await;
    emulator.enroll_totp("u1");
    let tracked = track(&emulator, "u1", "withdraw", None).await;
    let token = token_of(tracked.url.as_deref().unwrap());
    let right = submit(&emulator, &token, &emulator.totp_code("u1").unwrap()).await;
    assert_eq!(right.status().as_u16(), 200);
    let page = right.text().await.unwrap();
    assert!(element_text(&page, "success").is_some());
    let shown = element_text(&page, "token").unwrap();
    let validated = emulator
        .client()
        .validate_challenge(&ValidateChallengeRequest {
            token: shown.into(),
            ..ValidateChallengeRequest::default()
        })
        .await
        .unwrap();
    assert!(validated.is_valid);
}

#[tokio::test]
async fn what_the_page_shows_is_escaped() {
    let emulator = builder()
        .action("pay", ActionConfig::challenge())
        .start()
        .await
        .unwrap();
    emulator.enroll_totp("<script>alert(1)</script>");
    let tracked = track(&emulator, "<script>alert(1)</script>", "pay", None).await;
    let (status, page) = open(tracked.url.as_deref().unwrap()).await;
    assert_eq!(status, 200);
    assert!(!page.contains("<script>"), "{page}");
}

#[tokio::test]
async fn an_unenrolled_user_of_an_allowed_action_enrolls_on_the_page() {
    // `login` is not configured: ALLOW, and the user has no authenticator.
    let emulator = start().await;
    let tracked = track(
        &emulator,
        "newcomer",
        "login",
        Some("https://app.example/continue"),
    )
    .await;
    assert_eq!(tracked.state, UserActionState::Allow);
    assert!(!tracked.is_enrolled);
    let url = tracked.url.expect("a url even for ALLOW");
    let (status, page) = open(&url).await;
    assert_eq!(status, 200);
    for id in ["code", "verify", "totp-secret", "totp-uri"] {
        assert!(
            page.contains(&format!(r#"id="{id}""#)),
            "no #{id} in {page}"
        );
    }

    let code = emulator
        .totp_code("newcomer")
        .expect("the page started an enrollment");
    let right = submit(&emulator, &token_of(&url), &code).await;
    assert_eq!(right.status().as_u16(), 303);
    let location = right.headers()["location"].to_str().unwrap().to_owned();
    assert!(
        location.starts_with("https://app.example/continue?token=eyJ"),
        "{location}"
    );
    let validated = emulator
        .client()
        .validate_challenge(&ValidateChallengeRequest {
            token: token_of(&location).into(),
            user_id: Some("newcomer".into()),
            action: Some("login".into()),
        })
        .await
        .unwrap();
    assert!(validated.is_valid);
    assert_eq!(validated.state, Some(UserActionState::ChallengeSucceeded));
    assert!(
        emulator
            .client()
            .get_user("newcomer")
            .await
            .unwrap()
            .is_enrolled
    );
}

#[tokio::test]
async fn an_allowed_or_blocked_action_has_nothing_to_verify() {
    let emulator = builder()
        .action("close", ActionConfig::block())
        .start()
        .await
        .unwrap();
    emulator.enroll_totp("u1");
    let allowed = track(&emulator, "u1", "look", None).await;
    assert_eq!(allowed.state, UserActionState::Allow);
    let (status, allowed_page) = open(allowed.url.as_deref().unwrap()).await;
    assert_eq!(status, 200);
    assert_eq!(
        element_text(&allowed_page, "message"),
        Some("There is nothing to verify here.")
    );
    assert!(
        element_text(&allowed_page, "error").is_none(),
        "{allowed_page}"
    );

    let blocked = track(&emulator, "u1", "close", None).await;
    assert_eq!(blocked.state, UserActionState::Block);
    let (status, blocked_page) = open(blocked.url.as_deref().unwrap()).await;
    assert_eq!(status, 200);
    assert_eq!(
        element_text(&blocked_page, "error"),
        Some("There is nothing to verify here.")
    );
    for (page_name, page) in [("allowed", &allowed_page), ("blocked", &blocked_page)] {
        assert!(!page.contains(r#"id="code""#), "no form when {page_name}");
        assert!(
            !page.contains(r#"id="totp-secret""#),
            "no key when {page_name}"
        );
    }
}

/// The helper that lets tests of apps pass the pre-built UI as a person would.
#[tokio::test]
async fn complete_prebuilt_ui_types_the_code_and_refuses_what_it_cannot_do() {
    use authsignal::types::TrackAttributes;
    use authsignal_emulator::{ActionConfig, Emulator};

    let emulator = Emulator::builder()
        .action("withdraw", ActionConfig::challenge())
        .start()
        .await
        .unwrap();
    emulator.enroll_totp("alice");
    let client = emulator.client();
    let tracked = client
        .track(
            "alice",
            "withdraw",
            TrackAttributes {
                redirect_url: Some("https://app.example/withdraw".into()),
                ..TrackAttributes::default()
            },
        )
        .await
        .unwrap();
    let url = tracked.url.unwrap();
    let back = emulator.complete_prebuilt_ui(&url).await.unwrap();
    assert!(
        back.starts_with("https://app.example/withdraw?token="),
        "{back}"
    );

    for bad in [
        "https://elsewhere.example/ui/challenge?token=x".to_owned(),
        format!("{}/ui/challenge", emulator.origin()),
        format!("{}/ui/challenge?token=not.a.token", emulator.origin()),
    ] {
        assert!(emulator.complete_prebuilt_ui(&bad).await.is_err(), "{bad}");
    }
    // A user without an authenticator app cannot type a code.
    let unenrolled = client
        .track("bob", "withdraw", TrackAttributes::default())
        .await
        .unwrap();
    assert!(
        emulator
            .complete_prebuilt_ui(&unenrolled.url.unwrap())
            .await
            .is_err()
    );
}
