//! The pre-built UI's script and its launch modes, over HTTP: every page's CSP carries a
//! fresh nonce and the page's script tags carry that nonce; the Web SDK's popup and window
//! modes (`mode=popup`) keep the mode through the page's forms and links, may be framed
//! by the origin of the track's `redirectUrl` only, and hand the token to that origin
//! alone. (`tests/browser/launch_modes.rs` runs them in Chromium with the Web SDK.)

use authsignal::types::{
    EnrollVerifiedAuthenticatorRequest, TrackAttributes, ValidateChallengeRequest,
    VerificationMethod,
};
use authsignal_emulator::EmulatorHandle;
use reqwest::redirect::Policy;

use crate::emulator_util::{start, track, wrong_code};

const APP: &str = "https://app.example:8443";

fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .unwrap()
}

/// A page as the browser gets it: status, its CSP and its HTML.
pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) csp: String,
    pub(crate) html: String,
    pub(crate) location: Option<String>,
}

async fn answer(response: reqwest::Response) -> Answer {
    let status = response.status().as_u16();
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .map(|value| value.to_str().unwrap().to_owned())
    };
    let csp = header("content-security-policy").unwrap_or_default();
    let location = header("location");
    Answer {
        status,
        csp,
        location,
        html: response.text().await.unwrap(),
    }
}

pub(crate) async fn open(url: &str) -> Answer {
    answer(browser().get(url).send().await.unwrap()).await
}

pub(crate) async fn post(emulator: &EmulatorHandle, path: &str, form: &[(&str, &str)]) -> Answer {
    let url = format!("{}{path}", emulator.origin());
    answer(browser().post(url).form(form).send().await.unwrap()).await
}

/// One directive's value in a CSP (`script-src` → `'nonce-…'`).
pub(crate) fn directive<'a>(csp: &'a str, name: &str) -> Option<&'a str> {
    csp.split(';')
        .map(str::trim)
        .find_map(|d| d.strip_prefix(name)?.strip_prefix(' '))
}

/// The nonce `script-src` allows; the directive must allow nothing else.
pub(crate) fn csp_nonce(csp: &str) -> String {
    let scripts = directive(csp, "script-src").expect("a script-src directive");
    scripts
        .strip_prefix("'nonce-")
        .and_then(|rest| rest.strip_suffix('\''))
        .unwrap_or_else(|| panic!("script-src is one nonce only: {csp}"))
        .to_owned()
}

/// Every value of `attribute="…"` in `html`, in order.
pub(crate) fn attributes(html: &str, attribute: &str) -> Vec<String> {
    let needle = format!(r#"{attribute}=""#);
    html.match_indices(&needle)
        .map(|(at, _)| {
            let rest = &html[at + needle.len()..];
            rest[..rest.find('"').unwrap()].to_owned()
        })
        .collect()
}

pub(crate) fn has(html: &str, id: &str) -> bool {
    html.contains(&format!(r#"id="{id}""#))
}

pub(crate) fn token_of(url: &str) -> String {
    reqwest::Url::parse(url)
        .unwrap()
        .query_pairs()
        .find(|(name, _)| name == "token")
        .map(|(_, value)| value.into_owned())
        .expect("a token in the URL")
}

pub(crate) async fn validates(emulator: &EmulatorHandle, token: &str) -> bool {
    emulator
        .client()
        .validate_challenge(&ValidateChallengeRequest {
            token: token.into(),
            ..ValidateChallengeRequest::default()
        })
        .await
        .unwrap()
        .is_valid
}

#[tokio::test]
async fn every_page_has_a_fresh_nonce_and_runs_no_other_script() {
    let emulator = start().await;
    emulator.enroll_totp("u1");
    let url = track(&emulator, "u1", "withdraw", Some(APP))
        .await
        .url
        .unwrap();
    let popup = format!("{url}&mode=popup");
    let home = format!("{}/", emulator.origin());
    let bad = format!("{}/ui/challenge?token=nope", emulator.origin());

    let mut nonces = Vec::new();
    for page in [&url, &url, &popup, &popup, &home, &bad] {
        let page = open(page).await;
        let nonce = csp_nonce(&page.csp);
        // Nothing weakens the nonce (`csp_nonce` checks that `script-src` is the nonce
        // alone), and the rest is as strict as a page with no script.
        for weaker in ["unsafe-eval", "strict-dynamic", "*", "default-src 'self'"] {
            assert!(!page.csp.contains(weaker), "{weaker} in {}", page.csp);
        }
        assert_eq!(directive(&page.csp, "default-src"), Some("'none'"));
        assert_eq!(directive(&page.csp, "base-uri"), Some("'none'"));
        assert_eq!(directive(&page.csp, "connect-src"), None, "{}", page.csp);
        // Every script tag of the page carries the header's nonce.
        let tags = page.html.matches("<script").count();
        let carried = attributes(&page.html, "<script nonce");
        assert_eq!(carried.len(), tags, "{}", page.html);
        assert!(
            carried.iter().all(|n| *n == nonce),
            "{carried:?} vs {nonce}"
        );
        nonces.push(nonce);
    }
    let mut distinct = nonces.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(
        distinct.len(),
        nonces.len(),
        "a nonce per response: {nonces:?}"
    );

    // A page on its own runs no script at all, and is never framed.
    let own = open(&url).await;
    assert!(!own.html.contains("<script"), "{}", own.html);
    assert_eq!(directive(&own.csp, "frame-ancestors"), Some("'none'"));
    // In popup mode, one script, framed by the app's origin alone.
    let framed = open(&popup).await;
    assert_eq!(framed.html.matches("<script").count(), 1);
    assert_eq!(directive(&framed.csp, "frame-ancestors"), Some(APP));
}

#[tokio::test]
async fn popup_mode_hands_the_token_to_the_redirect_urls_origin_only() {
    let emulator = start().await;
    emulator.enroll_totp("u1");
    let url = track(
        &emulator,
        "u1",
        "withdraw",
        Some(&format!("{APP}/done?x=1")),
    )
    .await
    .url
    .unwrap();
    let token = token_of(&url);

    let page = open(&format!("{url}&mode=popup")).await;
    assert_eq!(page.status, 200);
    assert_eq!(attributes(&page.html, "data-opener-origin"), [APP]);
    assert!(attributes(&page.html, "data-result-token").is_empty());
    // The form keeps the mode, so that the answer is for the popup too.
    assert!(
        page.html
            .contains(r#"<input type="hidden" name="mode" value="popup">"#),
        "{}",
        page.html
    );

    // A wrong code: the form again, still framed by the app only.
    let wrong = wrong_code(&emulator, "u1");
    let form = [
        ("token", token.as_str()),
        ("code", &wrong),
        ("mode", "popup"),
    ];
    let again = post(&emulator, "/ui/challenge", &form).await;
    assert_eq!(again.status, 400);
    assert_eq!(directive(&again.csp, "frame-ancestors"), Some(APP));
    assert!(has(&again.html, "code") && has(&again.html, "error"));

    // The right code: no redirect; the page's script posts the new token to the app.
    let code = emulator.totp_code("u1").unwrap();
    let form = [
        ("token", token.as_str()),
        ("code", &code),
        ("mode", "popup"),
    ];
    let done = post(&emulator, "/ui/challenge", &form).await;
    assert_eq!(done.status, 200);
    assert_eq!(done.location, None);
    assert_eq!(attributes(&done.html, "data-opener-origin"), [APP]);
    let posted = attributes(&done.html, "data-result-token");
    assert_eq!(posted.len(), 1);
    assert!(validates(&emulator, &posted[0]).await);
    assert!(
        !has(&done.html, "token"),
        "the token is not shown in the page"
    );
    assert!(has(&done.html, "success"));
    let nonce = csp_nonce(&done.csp);
    assert_eq!(attributes(&done.html, "<script nonce"), [nonce]);
}

#[tokio::test]
async fn popup_mode_with_no_trusted_origin_posts_nothing_and_is_not_framed() {
    let emulator = start().await;
    emulator.enroll_totp("u1");
    for redirect_url in [None, Some("myapp://done"), Some("/relative")] {
        let tracked = track(&emulator, "u1", "withdraw", redirect_url).await;
        let url = tracked.url.unwrap();
        let page = open(&format!("{url}&mode=popup")).await;
        assert_eq!(page.status, 200, "{redirect_url:?}");
        assert!(
            !page.html.contains("<script"),
            "{redirect_url:?}: {}",
            page.html
        );
        assert!(attributes(&page.html, "data-opener-origin").is_empty());
        assert_eq!(directive(&page.csp, "frame-ancestors"), Some("'none'"));
        let code = emulator.totp_code("u1").unwrap();
        let token = token_of(&url);
        let form = [
            ("token", token.as_str()),
            ("code", &code),
            ("mode", "popup"),
        ];
        let done = post(&emulator, "/ui/challenge", &form).await;
        assert!(attributes(&done.html, "data-result-token").is_empty());
        assert!(!done.html.contains("<script"));
        // As without the mode: the token shown, or the redirect.
        match redirect_url {
            None => assert!(has(&done.html, "token"), "{}", done.html),
            Some(_) => assert_eq!(done.status, 303),
        }
        emulator.advance(std::time::Duration::from_secs(30));
    }
}

#[tokio::test]
async fn a_mode_the_sdk_never_sends_is_a_400_page() {
    let emulator = start().await;
    emulator.enroll_totp("u1");
    let url = track(&emulator, "u1", "withdraw", Some(APP))
        .await
        .url
        .unwrap();
    let token = token_of(&url);
    for mode in ["window", "redirect", "POPUP"] {
        let page = open(&format!("{url}&mode={mode}")).await;
        assert_eq!(page.status, 400, "{mode}");
        assert!(has(&page.html, "error"));
        assert!(!page.html.contains("<script"));
        let code = emulator.totp_code("u1").unwrap();
        let form = [("token", token.as_str()), ("code", &code), ("mode", mode)];
        let refused = post(&emulator, "/ui/challenge", &form).await;
        assert_eq!(refused.status, 400, "{mode}");
        let form = [("token", token.as_str()), ("method", "SMS"), ("mode", mode)];
        let refused = post(&emulator, "/ui/challenge/send", &form).await;
        assert_eq!(refused.status, 400, "{mode}");
    }
    // Nothing was verified by the refused forms.
    assert!(!validates(&emulator, &token).await);
}

#[tokio::test]
async fn in_popup_mode_links_and_sent_code_forms_keep_the_mode() {
    let emulator = start().await;
    emulator.enroll_totp("u1");
    emulator
        .client()
        .enroll_verified_authenticator(
            "u1",
            &EnrollVerifiedAuthenticatorRequest {
                phone_number: Some("+64270000042".into()),
                ..EnrollVerifiedAuthenticatorRequest::new(VerificationMethod::Sms)
            },
        )
        .await
        .unwrap();
    let url = track(&emulator, "u1", "withdraw", Some(APP))
        .await
        .url
        .unwrap();
    let page = open(&format!("{url}&mode=popup")).await;
    let links: Vec<String> = attributes(&page.html, "href")
        .into_iter()
        .filter(|href| href.contains("/ui/challenge"))
        .collect();
    assert!(!links.is_empty(), "{}", page.html);
    assert!(
        links.iter().all(|href| href.contains("&amp;mode=popup")),
        "{links:?}"
    );
    let sms = open(&format!("{url}&method=SMS&mode=popup")).await;
    assert!(has(&sms.html, "send"));
    let token = token_of(&url);
    let form = [
        ("token", token.as_str()),
        ("method", "SMS"),
        ("mode", "popup"),
    ];
    let sent = post(&emulator, "/ui/challenge/send", &form).await;
    assert_eq!(sent.status, 200);
    assert_eq!(directive(&sent.csp, "frame-ancestors"), Some(APP));
    assert!(sent.html.contains(r#"name="mode" value="popup""#));
    let challenge_id = attributes(&sent.html, "value")
        .into_iter()
        .find(|v| v.len() > 20 && !v.contains('.'))
        .expect("the challenge id");
    let code = emulator.outbox().last().unwrap().code.clone();
    let form = [
        ("token", token.as_str()),
        ("code", &code),
        ("challenge_id", &challenge_id),
        ("mode", "popup"),
    ];
    let done = post(&emulator, "/ui/challenge", &form).await;
    assert_eq!(done.status, 200, "{}", done.html);
    let posted = attributes(&done.html, "data-result-token");
    assert!(validates(&emulator, &posted[0]).await);
}

#[tokio::test]
async fn the_settings_page_in_popup_mode_posts_the_token_on_continue() {
    let emulator = start().await;
    emulator.enroll_totp("u1");
    let tracked = emulator
        .client()
        .track(
            "u1",
            "withdraw",
            TrackAttributes {
                redirect_url: Some(format!("{APP}/done")),
                redirect_to_settings: Some(true),
                ..TrackAttributes::default()
            },
        )
        .await
        .unwrap();
    let token = token_of(tracked.url.as_deref().unwrap());
    let code = emulator.totp_code("u1").unwrap();
    let form = [
        ("token", token.as_str()),
        ("code", &code),
        ("mode", "popup"),
    ];
    let passed = post(&emulator, "/ui/challenge", &form).await;
    assert_eq!(passed.status, 303);
    let settings = passed.location.unwrap();
    assert!(settings.ends_with("&mode=popup"), "{settings}");
    let page = open(&settings).await;
    assert_eq!(page.status, 200);
    assert!(
        page.html.contains(r#"<button id="continue""#),
        "{}",
        page.html
    );
    assert!(!page.html.contains(r#"<a id="continue""#));
    let posted = attributes(&page.html, "data-result-token");
    assert_eq!(posted, [token_of(&settings)]);
    assert!(validates(&emulator, &posted[0]).await);
}
