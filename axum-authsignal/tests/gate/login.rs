//! Sign-in step-up: the user is known only after the password check, the return leg
//! validates without a user id, and only the browser that started may finish.

use authsignal_emulator::{ActionConfig, Condition, Outcome, Rule};
use axum::extract::{FromRef, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use std::sync::{Arc, Mutex};

use axum_authsignal::{SIGN_IN_COOKIE, SignIn, SignedIn, StepUpConfigBuilder, Unenrolled};
use axum_test::TestServer;
use http::request::Parts;
use serde::Deserialize;

use crate::support::*;

#[derive(Clone)]
struct App {
    sign_in: SignIn,
}

impl FromRef<App> for SignIn {
    fn from_ref(app: &App) -> SignIn {
        app.sign_in.clone()
    }
}

#[derive(Deserialize)]
struct Credentials {
    username: String,
    password: String,
}

async fn password(State(app): State<App>, parts: Parts, Form(form): Form<Credentials>) -> Response {
    if form.password != format!("{}-password", form.username) {
        return (http::StatusCode::UNAUTHORIZED, "wrong password").into_response();
    }
    match app.sign_in.start(&form.username, &parts).await {
        Ok(proof) => {
            format!("signed in as {} without a challenge", proof.user_id()).into_response()
        }
        Err(challenge_or_refusal) => challenge_or_refusal,
    }
}

async fn callback(signed_in: SignedIn) -> impl IntoResponse {
    (
        [signed_in.clear_cookie()],
        format!("signed in as {}", signed_in.user_id()),
    )
}

struct Login {
    server: TestServer,
    gate: Gate,
}

async fn login_app() -> Login {
    login_app_with(|config| config).await
}

async fn login_app_with(
    configure: impl FnOnce(StepUpConfigBuilder) -> StepUpConfigBuilder + 'static,
) -> Login {
    login_app_from(setup().config(configure)).await
}

async fn login_app_from(setup: Setup) -> Login {
    // The harness supplies the emulator and HTTP plumbing; the app here is the login one.
    let gate = setup.start().await;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    let sign_in = gate
        .config
        .sign_in(format!("{origin}/login/callback"))
        .build()
        .unwrap();
    let app = Router::new()
        .route("/login", post(password))
        .route("/login/callback", get(callback))
        .with_state(App { sign_in });
    let server = TestServer::builder()
        .http_transport_with_tcp_listener(listener)
        .build(app);
    let gate = Gate { origin, ..gate };
    Login { server, gate }
}

/// Starts a sign-in in a browser: returns (UI location, binding cookie pair).
async fn start_sign_in(login: &Login, user: &str) -> (String, String) {
    let response = login
        .server
        .post("/login")
        .add_header("accept", NAVIGATION_ACCEPT)
        .add_header("sec-fetch-mode", "navigate")
        .form(&[
            ("username", user),
            ("password", &format!("{user}-password")),
        ])
        .await;
    assert_eq!(response.status_code(), 303, "{}", response.text());
    let cookie = response.header("set-cookie").to_str().unwrap().to_owned();
    let pair = cookie.split(';').next().unwrap().to_owned();
    (
        response.header("location").to_str().unwrap().to_owned(),
        pair,
    )
}

async fn finish(login: &Login, back: &str, cookie: Option<&str>) -> axum_test::TestResponse {
    let mut request = login.server.get(&local_path(&login.gate.origin, back));
    if let Some(cookie) = cookie {
        request = request.add_header("cookie", cookie);
    }
    request.await
}

#[tokio::test]
async fn sign_in_challenge_completes_in_the_browser_that_started_it() {
    let login = login_app().await;
    let (ui, cookie) = start_sign_in(&login, "alice").await;
    assert!(ui.starts_with(login.gate.emulator.origin()));
    let back = complete_ui(&login.gate, &ui).await;
    assert!(back.starts_with(&format!("{}/login/callback?token=", login.gate.origin)));

    let done = finish(&login, &back, Some(&cookie)).await;
    assert_eq!(done.status_code(), 200, "{}", done.text());
    assert_eq!(done.text(), "signed in as alice");
    assert!(
        done.header("set-cookie")
            .to_str()
            .unwrap()
            .contains("Max-Age=0")
    );
    // Good once.
    assert_eq!(
        finish(&login, &back, Some(&cookie)).await.status_code(),
        403
    );
}

#[tokio::test]
async fn the_binding_cookie_is_host_only_http_only_and_lax() {
    let login = login_app().await;
    let response = login
        .server
        .post("/login")
        .add_header("accept", NAVIGATION_ACCEPT)
        .form(&[("username", "alice"), ("password", "alice-password")])
        .await;
    let cookie = response.header("set-cookie").to_str().unwrap().to_owned();
    assert!(
        cookie.starts_with(&format!("{SIGN_IN_COOKIE}=")),
        "{cookie}"
    );
    for attribute in ["Path=/", "Secure", "HttpOnly", "SameSite=Lax"] {
        assert!(cookie.contains(attribute), "{cookie} lacks {attribute}");
    }
    assert!(!cookie.contains("Domain"), "a __Host- cookie has no Domain");
}

/// Login CSRF: an attacker's completed sign-in must not sign the victim in.
#[tokio::test]
async fn an_attackers_token_cannot_sign_in_another_browser() {
    let login = login_app().await;
    let (attacker_ui, attacker_cookie) = start_sign_in(&login, "mallory").await;
    let attacker_back = complete_ui(&login.gate, &attacker_ui).await;
    // The victim started a sign-in of their own, so holds a valid binding cookie...
    let (_victim_ui, victim_cookie) = start_sign_in(&login, "alice").await;
    // ...but it vouches for the victim's challenge, not the attacker's.
    assert_eq!(
        finish(&login, &attacker_back, Some(&victim_cookie))
            .await
            .status_code(),
        403
    );
    // No cookie, a forged cookie: refused too.
    assert_eq!(
        finish(&login, &attacker_back, None).await.status_code(),
        403
    );
    let key = attacker_back.split("token=").nth(1).unwrap();
    let forged = format!("{SIGN_IN_COOKIE}=forged.{key}");
    assert_eq!(
        finish(&login, &attacker_back, Some(&forged))
            .await
            .status_code(),
        403
    );
    // The attacker's own idempotency key under a made-up MAC: only the MAC can refuse it
    // (planted in the victim's browser, it would sign the victim in as the attacker).
    let (attacker_key, _mac) = attacker_cookie
        .strip_prefix(&format!("{SIGN_IN_COOKIE}="))
        .unwrap()
        .rsplit_once('.')
        .unwrap();
    for mac in [
        "AAAA",
        "",
        "not base64!",
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    ] {
        let planted = format!("{SIGN_IN_COOKIE}={attacker_key}.{mac}");
        assert_eq!(
            finish(&login, &attacker_back, Some(&planted))
                .await
                .status_code(),
            403,
            "{planted}"
        );
    }
    // The positive control: in the attacker's own browser, with the attacker's cookie,
    // the same token signs the attacker in. The refusals above were the binding's.
    let own = finish(&login, &attacker_back, Some(&attacker_cookie)).await;
    assert_eq!(own.status_code(), 200, "{}", own.text());
    assert_eq!(own.text(), "signed in as mallory");
}

/// A refusal answered to a browser at the callback is a page, not JSON.
#[tokio::test]
async fn a_refused_callback_is_a_page_for_a_browser() {
    let login = login_app().await;
    let (ui, _) = start_sign_in(&login, "alice").await;
    let back = complete_ui(&login.gate, &ui).await;
    let refused = login
        .server
        .get(&local_path(&login.gate.origin, &back))
        .add_header("accept", NAVIGATION_ACCEPT)
        .add_header("sec-fetch-mode", "navigate")
        .await;
    assert_eq!(refused.status_code(), 403);
    assert!(
        refused
            .header("content-type")
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
}

/// Sign-in sends the gate's context: the device id reaches Authsignal's rules.
#[tokio::test]
async fn sign_in_sends_the_same_context_as_the_gate() {
    let device = |parts: &Parts| {
        parts
            .headers
            .get("x-device")
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned)
    };
    let login = login_app_with(move |config| config.device_id(device)).await;
    login.gate.emulator.set_action(
        "signIn",
        ActionConfig::allow().rule(
            Rule::new("stolen-device", Outcome::Block)
                .when(Condition::device_id_in(["stolen-laptop"])),
        ),
    );
    let sign_in = |device: &'static str| {
        login
            .server
            .post("/login")
            .add_header("x-device", device)
            .form(&[("username", "alice"), ("password", "alice-password")])
    };
    assert_eq!(sign_in("stolen-laptop").await.status_code(), 403);
    assert_eq!(sign_in("own-laptop").await.status_code(), 200);
}

#[tokio::test]
async fn a_cookie_key_shorter_than_32_bytes_is_a_configuration_error() {
    let gate = start(|layer| layer).await;
    let sign_in = |key: &[u8]| {
        gate.config
            .sign_in("https://app.example/login/callback")
            .cookie_key(key)
            .build()
    };
    assert!(matches!(
        sign_in(&[7; 31]),
        Err(authsignal::ConfigError::InvalidSetting(_))
    ));
    assert!(sign_in(&[7; 32]).is_ok());
}

#[tokio::test]
async fn an_allowed_sign_in_needs_no_challenge() {
    let login = login_app().await;
    login
        .gate
        .emulator
        .set_action("signIn", ActionConfig::allow());
    let response = login
        .server
        .post("/login")
        .form(&[("username", "alice"), ("password", "alice-password")])
        .await;
    assert_eq!(response.status_code(), 200);
    assert_eq!(response.text(), "signed in as alice without a challenge");
    let wrong = login
        .server
        .post("/login")
        .form(&[("username", "alice"), ("password", "guess")])
        .await;
    assert_eq!(wrong.status_code(), 401);
}

/// Finding 3: sign-in runs the gate's first leg, so it follows the pre-built UI's origins
/// only: a foreign `url` is a 503, never a `Location`.
#[tokio::test]
async fn sign_in_sends_browsers_only_to_the_pre_built_ui() {
    let url = Arc::new(Mutex::new(None));
    let login = login_app_from(setup().stand_in(crate::leg1::track_url(&url))).await;
    let (ui, _) = start_sign_in(&login, "alice").await;
    assert!(ui.starts_with(login.gate.emulator.origin()), "{ui}");
    for foreign in crate::leg1::FOREIGN_URLS {
        *url.lock().unwrap() = Some(foreign.to_owned());
        let response = login
            .server
            .post("/login")
            .add_header("accept", NAVIGATION_ACCEPT)
            .add_header("sec-fetch-mode", "navigate")
            .form(&[("username", "alice"), ("password", "alice-password")])
            .await;
        assert_eq!(
            response.status_code(),
            503,
            "{foreign}: {}",
            response.text()
        );
        assert!(
            response.maybe_header("location").is_none(),
            "{foreign} became a Location"
        );
    }
}

/// Finding 3: sign-in honours the configuration's `Unenrolled` policy, as the gate does.
#[tokio::test]
async fn sign_in_honours_the_unenrolled_policy() {
    let sign_in = |login: &Login| {
        login
            .server
            .post("/login")
            .add_header("accept", NAVIGATION_ACCEPT)
            .add_header("sec-fetch-mode", "navigate")
            .form(&[("username", "newbie"), ("password", "newbie-password")])
    };
    for (policy, status) in [
        (Unenrolled::FollowAuthsignal, 200),
        (Unenrolled::Refuse, 403),
        (Unenrolled::Enrol, 303),
    ] {
        let login = login_app_with(move |config| config.unenrolled(policy)).await;
        // "newbie" has no authenticator: Authsignal allows, with isEnrolled false.
        login
            .gate
            .emulator
            .set_action("signIn", ActionConfig::allow());
        let response = sign_in(&login).await;
        assert_eq!(
            response.status_code(),
            status,
            "{policy:?}: {}",
            response.text()
        );
        if status == 303 {
            let location = response.header("location").to_str().unwrap().to_owned();
            assert!(
                location.starts_with(login.gate.emulator.origin()),
                "{location}"
            );
            assert!(cookie_set(&response, SIGN_IN_COOKIE).is_some());
        }
    }
}

/// An API client signing in (no navigation, no htmx) is answered with the token for its
/// own UI, and the binding cookie, as the gate answers API clients: never a redirect.
#[tokio::test]
async fn an_api_client_signing_in_gets_the_token_not_a_redirect() {
    let login = login_app().await;
    let response = login
        .server
        .post("/login")
        .add_header("accept", "application/json")
        .form(&[("username", "alice"), ("password", "alice-password")])
        .await;
    assert_eq!(response.status_code(), 401, "{}", response.text());
    assert!(response.maybe_header("location").is_none());
    let problem: serde_json::Value = response.json();
    assert_eq!(problem["code"], "step_up_required");
    let token = problem["token"].as_str().expect("the track token");
    remember(token);
    assert!(cookie_set(&response, SIGN_IN_COOKIE).is_some());
}
