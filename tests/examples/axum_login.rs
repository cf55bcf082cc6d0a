//! The axum-login example's flow over real HTTP: the gate takes the user from axum-login's
//! `AuthSession`, a browser is stepped up through the pre-built UI, and a token is good
//! once and for its own user only.

use crate::axum_login_example as example;
use crate::browser_session::*;
use axum_test::{TestResponse, TestServer};

/// Serves the app on a port chosen before the app is built, since the app needs its origin.
async fn start() -> (TestServer, authsignal_emulator::EmulatorHandle, String) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    let (app, emulator) = example::with_emulator(&origin).await;
    let server = TestServer::builder()
        .http_transport_with_tcp_listener(listener)
        .build(app);
    (server, emulator, origin)
}

/// Signs in through axum-login's form; returns the session cookie.
async fn sign_in(server: &TestServer, username: &str, password: &str) -> String {
    let signed_in = server
        .post("/login")
        .form(&[("username", username), ("password", password)])
        .await;
    assert_eq!(signed_in.status_code(), 303, "{}", signed_in.text());
    assert_eq!(location(&signed_in), "/withdraw");
    // The way back from the pre-built UI is a cross-site navigation: a `Strict` cookie
    // would not come with it, and the browser would arrive signed out.
    let header = signed_in.header("set-cookie").to_str().unwrap().to_owned();
    assert!(header.contains("SameSite=Lax"), "{header}");
    let cookies = set_cookies(&signed_in);
    assert_eq!(cookies.len(), 1, "one session cookie: {cookies:?}");
    cookies.into_iter().next().unwrap()
}

/// A browser's form post of a withdrawal.
async fn withdraw(server: &TestServer, session: &str, amount: &str) -> TestResponse {
    server
        .post("/withdraw")
        .add_header("cookie", session)
        .add_header("accept", NAVIGATION)
        .add_header("sec-fetch-mode", "navigate")
        .form(&[("amount", amount)])
        .await
}

/// The withdrawals `session`'s user sees.
async fn withdrawals(server: &TestServer, session: &str) -> String {
    navigate(server, "/withdrawals", session).await.text()
}

#[tokio::test]
async fn the_gate_finds_the_user_in_axum_logins_session() {
    let (server, emulator, origin) = start().await;

    // Signed out: axum-login knows no user, so the gate answers 401 and tracks nothing.
    let anonymous = withdraw(&server, "", "2500").await;
    assert_eq!(anonymous.status_code(), 401, "{}", anonymous.text());
    assert!(emulator.calls().is_empty(), "{:?}", emulator.calls());

    // The backend checks the password; a wrong one signs nobody in.
    let wrong = server
        .post("/login")
        .form(&[
            ("username", example::DEMO_USER),
            ("password", example::OTHER_PASSWORD),
        ])
        .await;
    assert_eq!(wrong.status_code(), 401);
    assert!(
        set_cookies(&wrong).is_empty(),
        "no session for a wrong password"
    );
    let session = sign_in(&server, example::DEMO_USER, example::DEMO_PASSWORD).await;
    let page = navigate(&server, "/withdraw", &session).await;
    assert!(
        page.text().contains("Signed in as <b>demo</b>"),
        "{}",
        page.text()
    );
    assert!(emulator.calls().is_empty(), "the form page tracks nothing");

    // A small withdrawal passes: Authsignal allows it for the signed-in user.
    let small = withdraw(&server, &session, "50").await;
    assert_eq!(small.status_code(), 303, "{}", small.text());
    let shown = navigate(&server, &location(&small), &session).await;
    assert!(
        shown
            .text()
            .contains("Withdrawal of 50.00 confirmed (no step-up needed)"),
        "{}",
        shown.text()
    );
    assert_eq!(emulator.call_count("track"), 1);

    // A large one is challenged: to the pre-built UI, which sends the browser back.
    let large = withdraw(&server, &session, "2500").await;
    assert_eq!(large.status_code(), 303, "{}", large.text());
    let ui = location(&large);
    assert!(ui.starts_with(emulator.origin()), "{ui}");
    let back = emulator.complete_prebuilt_ui(&ui).await.unwrap();
    let back_path = back
        .strip_prefix(origin.as_str())
        .unwrap_or_else(|| panic!("back to the app's origin: {back}"))
        .to_owned();
    assert!(back_path.starts_with("/withdraw?token="), "{back_path}");

    // Another signed-in user cannot use the demo user's token, and runs nothing with it.
    let other = sign_in(&server, example::OTHER_USER, example::OTHER_PASSWORD).await;
    let stolen = navigate(&server, &back_path, &other).await;
    assert_eq!(stolen.status_code(), 403, "{}", stolen.text());
    assert!(set_cookies(&stolen).is_empty(), "no resume for them");

    // The demo user: back with the token, sent on to the clean URL with a resume cookie,
    // where a page posts the form again, which runs the stashed withdrawal once.
    let (field, cookies) = resume_field(&server, &origin, &back_path, "/withdraw", &session).await;
    let post_resume = || post_resume(&server, "/withdraw", &cookies, &field);
    let confirmed = post_resume().await;
    assert_eq!(confirmed.status_code(), 303, "{}", confirmed.text());
    let shown = navigate(&server, &location(&confirmed), &session).await;
    assert!(
        shown
            .text()
            .contains("Withdrawal of 2500.00 confirmed (verified with AUTHENTICATOR_APP)"),
        "{}",
        shown.text()
    );

    // A replay of the token is refused, and posting the resume form again (a refresh)
    // goes back to the form: neither withdraws anything.
    let replay = navigate(&server, &back_path, &session).await;
    assert_eq!(replay.status_code(), 403, "{}", replay.text());
    let again = post_resume().await;
    assert_eq!(again.status_code(), 303);
    assert_eq!(location(&again), format!("{origin}/withdraw"));

    let list = withdrawals(&server, &session).await;
    assert_eq!(list.matches("class=\"withdrawal\"").count(), 2, "{list}");
    assert!(list.contains("2500.00 (stepped up)"), "{list}");
    let theirs = withdrawals(&server, &other).await;
    assert_eq!(
        theirs.matches("class=\"withdrawal\"").count(),
        0,
        "{theirs}"
    );
}

#[tokio::test]
async fn signing_out_closes_the_gate() {
    let (server, emulator, _) = start().await;
    let session = sign_in(&server, example::DEMO_USER, example::DEMO_PASSWORD).await;
    let signed_out = server.post("/logout").add_header("cookie", &session).await;
    assert_eq!(signed_out.status_code(), 303);

    // The old cookie names a session that no longer has a user.
    let after = withdraw(&server, &session, "50").await;
    assert_eq!(after.status_code(), 401, "{}", after.text());
    assert_eq!(emulator.call_count("track"), 0);
}

/// Signing out between the way back and the resume page's post ends the step-up: the
/// sign-out clears the resume cookie, and the page posted after signing in again
/// withdraws nothing.
#[tokio::test]
async fn signing_out_ends_a_pending_resume() {
    let (server, emulator, origin) = start().await;
    let session = sign_in(&server, example::DEMO_USER, example::DEMO_PASSWORD).await;
    let large = withdraw(&server, &session, "2500").await;
    assert_eq!(large.status_code(), 303, "{}", large.text());
    let back = emulator
        .complete_prebuilt_ui(&location(&large))
        .await
        .unwrap();
    let back_path = back.strip_prefix(origin.as_str()).unwrap().to_owned();
    let (field, _) = resume_field(&server, &origin, &back_path, "/withdraw", &session).await;

    let signed_out = server.post("/logout").add_header("cookie", &session).await;
    assert_eq!(signed_out.status_code(), 303);
    let cleared = set_cookies(&signed_out);
    for name in ["authsignal-resume=", "__Host-authsignal-resume="] {
        assert!(
            cleared.iter().any(|pair| pair == name),
            "{name} in {cleared:?}"
        );
    }
    // Signed in again: the browser holds the new session only.
    let session = sign_in(&server, example::DEMO_USER, example::DEMO_PASSWORD).await;
    let posted = post_resume(&server, "/withdraw", &session, &field).await;
    assert_eq!(posted.status_code(), 403, "{}", posted.text());
    let list = withdrawals(&server, &session).await;
    assert_eq!(list.matches("class=\"withdrawal\"").count(), 0, "{list}");
}
