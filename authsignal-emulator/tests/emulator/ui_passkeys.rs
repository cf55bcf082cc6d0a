//! A passkey on the pre-built UI, over HTTP: the page offers a passkey the emulator can
//! verify, its script (under the response's nonce, allowed to call this origin only)
//! verifies through the client API, and the page then goes on from the token that answered
//! only if a passkey completed its action. The script itself runs in Chromium in
//! `tests/browser/launch_modes.rs`; here a software authenticator answers in its place.

use authsignal::types::{TrackAttributes, UserActionState, VerificationMethod};
use authsignal_emulator::EmulatorHandle;

use crate::emulator_util::client_verify_totp;
use crate::passkeys::{SoftAuthenticator, authentication_options, sign_up, start, verify_passkey};
use crate::ui_launch::{attributes, csp_nonce, directive, has, open, post, token_of, validates};

const APP: &str = "https://app.example";

/// `jane`, signed up with `phone`'s passkey, on a `withdraw` tracked back to [`APP`]: the
/// track `url`.
async fn passkey_user(emulator: &EmulatorHandle, phone: &mut SoftAuthenticator) -> String {
    sign_up(emulator, "jane", phone).await;
    let tracked = emulator
        .client()
        .track(
            "jane",
            "withdraw",
            TrackAttributes {
                redirect_url: Some(format!("{APP}/done")),
                ..TrackAttributes::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(tracked.state, UserActionState::ChallengeRequired);
    tracked.url.unwrap()
}

/// The software authenticator answers what the page's script asks for: the client API's
/// options, an assertion, `verify/passkey`. The token that answered.
async fn passkey_verified(
    emulator: &EmulatorHandle,
    phone: &mut SoftAuthenticator,
    token: &str,
) -> String {
    let options = authentication_options(emulator, token).await;
    let assertion = phone.get(&options["options"], "jane");
    let (status, verified) = verify_passkey(emulator, token, &options, &assertion).await;
    assert_eq!(status, 200, "{verified}");
    verified["accessToken"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn the_page_offers_the_passkey_first_with_a_script_that_may_call_this_origin() {
    let emulator = start().await;
    let mut phone = SoftAuthenticator::new(3);
    let url = passkey_user(&emulator, &mut phone).await;
    let page = open(&url).await;
    assert_eq!(page.status, 200);
    assert!(has(&page.html, "passkey") && has(&page.html, "passkey-form"));
    assert_eq!(attributes(&page.html, "data-token"), [token_of(&url)]);
    assert!(
        !has(&page.html, "code"),
        "the passkey first, not a code form"
    );
    let nonce = csp_nonce(&page.csp);
    assert_eq!(attributes(&page.html, "<script nonce"), [nonce]);
    assert_eq!(directive(&page.csp, "connect-src"), Some("'self'"));
    assert_eq!(directive(&page.csp, "frame-ancestors"), Some("'none'"));

    // In popup mode: the passkey's script and the opener's, both under the nonce.
    let popup = open(&format!("{url}&mode=popup")).await;
    let nonce = csp_nonce(&popup.csp);
    assert_eq!(
        attributes(&popup.html, "<script nonce"),
        [nonce.as_str(), nonce.as_str()]
    );
    assert_eq!(directive(&popup.csp, "frame-ancestors"), Some(APP));
    // No code can be "sent" to a passkey.
    let token = token_of(&url);
    let form = [("token", token.as_str()), ("method", "PASSKEY")];
    assert_eq!(
        post(&emulator, "/ui/challenge/send", &form).await.status,
        400
    );
}

#[tokio::test]
async fn after_the_passkey_the_page_goes_on_as_after_a_right_code() {
    let emulator = start().await;
    let mut phone = SoftAuthenticator::new(4);
    let url = passkey_user(&emulator, &mut phone).await;
    let token = token_of(&url);
    let answered = passkey_verified(&emulator, &mut phone, &token).await;

    let done = post(&emulator, "/ui/challenge/passkey", &[("token", &answered)]).await;
    assert_eq!(done.status, 303, "{}", done.html);
    let location = done.location.unwrap();
    assert!(
        location.starts_with(&format!("{APP}/done?token=")),
        "{location}"
    );
    let returned = token_of(&location);
    let validation = emulator
        .client()
        .validate_challenge(&authsignal::types::ValidateChallengeRequest {
            token: returned.into(),
            user_id: Some("jane".into()),
            action: Some("withdraw".into()),
        })
        .await
        .unwrap();
    assert!(validation.is_valid);
    assert_eq!(
        validation.verification_method,
        Some(VerificationMethod::Passkey)
    );

    // In popup mode, the token goes to the app's origin instead.
    let form = [("token", answered.as_str()), ("mode", "popup")];
    let posted = post(&emulator, "/ui/challenge/passkey", &form).await;
    assert_eq!(posted.status, 200);
    assert_eq!(attributes(&posted.html, "data-opener-origin"), [APP]);
    assert_eq!(attributes(&posted.html, "data-result-token"), [answered]);
}

#[tokio::test]
async fn the_page_goes_on_only_from_an_action_a_passkey_completed() {
    let emulator = start().await;
    let mut phone = SoftAuthenticator::new(5);
    let url = passkey_user(&emulator, &mut phone).await;
    let token = token_of(&url);

    // The track token itself, before any passkey: nothing to go on from.
    let early = post(&emulator, "/ui/challenge/passkey", &[("token", &token)]).await;
    assert_eq!(early.status, 400);
    assert_eq!(early.location, None);
    assert!(has(&early.html, "error"));
    assert!(!validates(&emulator, &token).await);

    // An action completed with an app's code is not a passkey's.
    emulator.enroll_totp("sam");
    let tracked = emulator
        .client()
        .track(
            "sam",
            "withdraw",
            TrackAttributes {
                redirect_url: Some(format!("{APP}/done")),
                ..TrackAttributes::default()
            },
        )
        .await
        .unwrap();
    let sam = tracked.token.unwrap().into_string();
    let code = emulator.totp_code("sam").unwrap();
    let (status, verified) = client_verify_totp(&emulator, &sam, &code).await;
    assert_eq!(status, 200, "{verified}");
    let by_app = verified["accessToken"].as_str().unwrap();
    assert!(validates(&emulator, by_app).await);
    let refused = post(&emulator, "/ui/challenge/passkey", &[("token", by_app)]).await;
    assert_eq!(refused.status, 400);
    assert_eq!(refused.location, None);

    // A forged or missing token, and a mode the SDK never sends.
    for form in [
        vec![("token", "eyJ.forged.token")],
        vec![],
        vec![("token", token.as_str()), ("mode", "window")],
    ] {
        let refused = post(&emulator, "/ui/challenge/passkey", &form).await;
        assert_eq!(refused.status, 400, "{form:?}");
    }
}

#[tokio::test]
async fn a_passkey_in_a_cross_origin_iframe_counts_only_on_the_apps_page() {
    let emulator = start().await;
    let mut phone = SoftAuthenticator::new(6);
    let url = passkey_user(&emulator, &mut phone).await;
    let token = token_of(&url);
    // The pre-built UI's page asks `phone` for an assertion, framed by `top`.
    let mut assert_framed = async |token: &str, top: Option<&str>| {
        phone.top_origin = top.map(str::to_owned);
        let options = authentication_options(&emulator, token).await;
        let assertion = phone.get(&options["options"], "jane");
        verify_passkey(&emulator, token, &options, &assertion).await
    };
    // Framed by another site: refused for its origin.
    for top in ["https://evil.example", "https://app.example:444"] {
        let (status, refused) = assert_framed(&token, Some(top)).await;
        assert_eq!(status, 400, "{top}: {refused}");
        assert!(
            refused["errorDescription"]
                .as_str()
                .unwrap()
                .contains("origin"),
            "{refused}"
        );
    }
    assert!(!validates(&emulator, &token).await);
    // On the app's page (the Web SDK's popup): verified.
    let (status, verified) = assert_framed(&token, Some(APP)).await;
    assert_eq!(status, 200, "{verified}");
    assert!(validates(&emulator, &token).await);

    // An action with no app (no redirectUrl): no page may embed the ceremony.
    let tracked = emulator
        .client()
        .track("jane", "withdraw", TrackAttributes::default())
        .await
        .unwrap();
    let token = tracked.token.unwrap().into_string();
    let (status, refused) = assert_framed(&token, Some(APP)).await;
    assert_eq!(status, 400, "{refused}");
    assert!(
        refused["errorDescription"]
            .as_str()
            .unwrap()
            .contains("origin"),
        "{refused}"
    );
    // The same passkey, not framed, passes: the refusals were for the frame alone.
    let (status, verified) = assert_framed(&token, None).await;
    assert_eq!(status, 200, "{verified}");
}
