//! Each example's flow, driven through the example's own router over real HTTP.

use crate::login;
use crate::payment_api;
use crate::withdrawal;

use crate::browser_session::*;
use authsignal_emulator::EmulatorHandle;
use axum_test::{TestResponse, TestServer};
use serde_json::{Value, json};

/// Serves `app` on a port chosen before the app is built, since the app needs its origin.
fn listener() -> (std::net::TcpListener, String) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    (listener, origin)
}

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

fn cookie_pair(response: &TestResponse) -> String {
    response
        .header("set-cookie")
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned()
}

fn path_of(origin: &str, url: &str) -> String {
    url.strip_prefix(origin).unwrap().to_owned()
}

/// A custom UI's step: the authenticator-app `code` through the emulator's client API with
/// the track token as Bearer; returns the validated token.
async fn verify_totp(emulator: &EmulatorHandle, track_token: &str, code: &str) -> String {
    let verified: Value = no_redirects()
        .post(format!("{}/client/verify/totp", emulator.api_url()))
        .bearer_auth(track_token)
        .json(&json!({ "verificationCode": code }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(verified["isVerified"], true, "{verified}");
    verified["accessToken"].as_str().unwrap().to_owned()
}

/// The browser's way back from the pre-built UI at `ui` for a challenged withdrawal: the
/// resume page's field and the cookies to post it with.
async fn back_from_ui(
    server: &TestServer,
    emulator: &EmulatorHandle,
    origin: &str,
    session: &str,
    ui: &str,
) -> (String, String) {
    let back = emulator.complete_prebuilt_ui(ui).await.unwrap();
    let back_path = path_of(origin, &back);
    resume_field(server, origin, &back_path, "/withdraw", session).await
}

/// `response` is the handler's redirect (post/redirect/get) to a page that says `text`.
async fn expect_page(server: &TestServer, session: &str, response: &TestResponse, text: &str) {
    assert_eq!(response.status_code(), 303, "{}", response.text());
    let shown = server
        .get(&location(response))
        .add_header("cookie", session)
        .await;
    assert!(shown.text().contains(text), "{}", shown.text());
}

/// The withdrawal example on an origin of its own, and the demo user's session cookie
/// (after a wrong password is refused).
async fn withdrawal_signed_in() -> (TestServer, EmulatorHandle, String, String) {
    let (listener, origin) = listener();
    let (app, emulator) = withdrawal::with_emulator(&origin).await;
    let server = TestServer::builder()
        .http_transport_with_tcp_listener(listener)
        .build(app);
    let wrong = server
        .post("/login")
        .form(&[("username", "demo"), ("password", "nope")])
        .await;
    assert_eq!(wrong.status_code(), 401);
    let signed_in = server
        .post("/login")
        .form(&[
            ("username", withdrawal::DEMO_USER),
            ("password", withdrawal::DEMO_PASSWORD),
        ])
        .await;
    assert_eq!(signed_in.status_code(), 303);
    let session = cookie_pair(&signed_in);
    (server, emulator, origin, session)
}

#[tokio::test]
async fn withdrawal_over_the_threshold_is_stepped_up_and_completes_once() {
    let (server, emulator, origin, session) = withdrawal_signed_in().await;

    // The form page is not the action: viewing it tracks nothing.
    emulator.clear_calls();
    let form = server.get("/withdraw").add_header("cookie", &session).await;
    assert!(form.text().contains("id=\"amount\""));
    assert!(emulator.calls().is_empty());

    let small = server
        .post("/withdraw")
        .add_header("cookie", &session)
        .add_header("accept", NAVIGATION)
        .form(&[("amount", "50")])
        .await;
    expect_page(
        &server,
        &session,
        &small,
        "Withdrawal of 50.00 confirmed (no step-up needed)",
    )
    .await;

    let large = server
        .post("/withdraw")
        .add_header("cookie", &session)
        .add_header("accept", NAVIGATION)
        .add_header("sec-fetch-mode", "navigate")
        .form(&[("amount", "2500")])
        .await;
    assert_eq!(large.status_code(), 303);
    let ui = location(&large);
    assert!(ui.starts_with(emulator.origin()));

    // Back from the UI with the token: sent on to the clean URL with the resume cookie,
    // where a page posts the form again, which runs the stashed withdrawal.
    let (field, cookies) = back_from_ui(&server, &emulator, &origin, &session, &ui).await;
    let post_resume = || post_resume(&server, "/withdraw", &cookies, &field);
    let confirmed = post_resume().await;
    expect_page(
        &server,
        &session,
        &confirmed,
        "Withdrawal of 2500.00 confirmed (verified with AUTHENTICATOR_APP)",
    )
    .await;
    // Posting the resume form again (a refresh) goes back to the form, withdrawing nothing.
    let again = post_resume().await;
    assert_eq!(again.status_code(), 303);
    assert_eq!(location(&again), format!("{origin}/withdraw"));

    let list = server
        .get("/withdrawals")
        .add_header("cookie", &session)
        .await
        .text();
    assert_eq!(list.matches("class=\"withdrawal\"").count(), 2, "{list}");
    assert!(list.contains("2500.00 (stepped up)"));
}

/// An amount a trimming reader takes for 5000 (`+` is a space in a form) is judged as 5000,
/// so it is stepped up, and the ledger books the 5000 judged; text that is no number is
/// judged as text and booked as nothing.
#[tokio::test]
async fn withdrawal_books_the_amount_judged_whatever_its_spelling() {
    let (server, emulator, origin, session) = withdrawal_signed_in().await;
    let submit = |form: &'static str| {
        server
            .post("/withdraw")
            .add_header("cookie", &session)
            .add_header("accept", NAVIGATION)
            .add_header("sec-fetch-mode", "navigate")
            .content_type("application/x-www-form-urlencoded")
            .bytes(form.into())
    };

    let padded = submit("amount=+5000").await;
    assert_eq!(padded.status_code(), 303, "{}", padded.text());
    let ui = location(&padded);
    assert!(ui.starts_with(emulator.origin()), "stepped up: {ui}");
    let (field, cookies) = back_from_ui(&server, &emulator, &origin, &session, &ui).await;
    let confirmed = post_resume(&server, "/withdraw", &cookies, &field).await;
    expect_page(
        &server,
        &session,
        &confirmed,
        "Withdrawal of 5000.00 confirmed (verified with AUTHENTICATOR_APP)",
    )
    .await;

    let spaced = submit("amount=5+000").await;
    assert_eq!(spaced.status_code(), 400, "{}", spaced.text());
    let list = server
        .get("/withdrawals")
        .add_header("cookie", &session)
        .await
        .text();
    assert_eq!(list.matches("class=\"withdrawal\"").count(), 1, "{list}");
}

/// A JSON string amount is judged as the number it reads as, and that number is paid.
#[tokio::test]
async fn payment_api_pays_the_amount_judged() {
    let (app, emulator) = payment_api::with_emulator().await;
    let server = TestServer::new(app);
    let auth = format!("Bearer {}", payment_api::DEMO_API_KEY);
    let payment = json!({ "amount": " 5000", "payee": "ACME Ltd" });
    let challenged = server
        .post("/payments")
        .add_header("authorization", &auth)
        .json(&payment)
        .await;
    assert_eq!(challenged.status_code(), 401, "{}", challenged.text());
    let track_token = challenged.json::<Value>()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let code = emulator.totp_code(payment_api::DEMO_USER).unwrap();
    let token = verify_totp(&emulator, &track_token, &code).await;
    let token = token.as_str();
    let paid = server
        .post("/payments")
        .add_header("authorization", &auth)
        .add_header("x-authsignal-token", token)
        .json(&payment)
        .await;
    assert_eq!(paid.status_code(), 201, "{}", paid.text());
    assert_eq!(paid.json::<Value>()["amount"], 5000.0);
}

/// A payment above the review threshold is held, approved by the back office
/// (`updateAction`), then paid once when the client comes back with its id; another
/// user's comeback with that id pays nothing.
#[tokio::test]
async fn payment_api_holds_a_payment_for_review_and_pays_it_once_approved() {
    let (app, emulator) = payment_api::with_emulator().await;
    let server = TestServer::new(app);
    let auth = format!("Bearer {}", payment_api::DEMO_API_KEY);
    let payment = json!({ "amount": 25000, "payee": "ACME Ltd" });
    let send = |auth: String, review: Option<String>| {
        let mut request = server.post("/payments").add_header("authorization", auth);
        if let Some(review) = review {
            request = request.add_header("x-authsignal-review", review);
        }
        request.json(&payment)
    };
    let held = send(auth.clone(), None).await;
    assert_eq!(held.status_code(), 202, "{}", held.text());
    assert_eq!(held.header("retry-after"), "30");
    let problem: Value = held.json();
    assert_eq!(problem["code"], "action_in_review");
    assert_eq!(problem["reviewHeader"], "x-authsignal-review");
    let key = problem["idempotencyKey"].as_str().unwrap().to_owned();

    let waiting = send(auth.clone(), Some(key.clone())).await;
    assert_eq!(waiting.status_code(), 202, "{}", waiting.text());

    emulator
        .client()
        .update_action(
            payment_api::DEMO_USER,
            "payment",
            &key,
            &authsignal::types::UpdateActionRequest {
                state: authsignal::types::UserActionState::ReviewSucceeded,
            },
        )
        .await
        .unwrap();
    let other_auth = format!("Bearer {}", payment_api::OTHER_API_KEY);
    let stolen = send(other_auth, Some(key.clone())).await;
    assert_eq!(stolen.status_code(), 403, "{}", stolen.text());

    let paid = send(auth.clone(), Some(key.clone())).await;
    assert_eq!(paid.status_code(), 201, "{}", paid.text());
    let record: Value = paid.json();
    assert_eq!(record["reviewed"], true);
    assert_eq!(record["amount"], 25000.0);
    let again = send(auth.clone(), Some(key)).await;
    assert_eq!(again.status_code(), 403, "paid once");
    let listed: Value = server
        .get("/payments")
        .add_header("authorization", &auth)
        .await
        .json();
    assert_eq!(listed.as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn payment_api_custom_ui_flow() {
    let (app, emulator) = payment_api::with_emulator().await;
    let server = TestServer::new(app);
    let auth = format!("Bearer {}", payment_api::DEMO_API_KEY);
    let payment = json!({ "amount": 5000, "payee": "ACME Ltd" });

    let anonymous = server.post("/payments").json(&payment).await;
    assert_eq!(anonymous.status_code(), 401);
    assert_eq!(anonymous.json::<Value>()["code"], "user_required");

    let small = server
        .post("/payments")
        .add_header("authorization", &auth)
        .json(&json!({ "amount": 20, "payee": "Cafe" }))
        .await;
    assert_eq!(small.status_code(), 201);
    assert_eq!(small.json::<Value>()["steppedUp"], false);

    let challenged = server
        .post("/payments")
        .add_header("authorization", &auth)
        .json(&payment)
        .await;
    assert_eq!(challenged.status_code(), 401);
    let problem: Value = challenged.json();
    let track_token = problem["token"].as_str().unwrap();

    // The custom UI: the code (here from the demo endpoint) through the client API.
    let code = server.get("/demo/code").await.text();
    assert_eq!(code, emulator.totp_code(payment_api::DEMO_USER).unwrap());
    let token = verify_totp(&emulator, track_token, &code).await;
    let token = token.as_str();

    // Another user, with an account of their own, cannot use the demo user's token.
    let other_auth = format!("Bearer {}", payment_api::OTHER_API_KEY);
    let stolen = server
        .post("/payments")
        .add_header("authorization", &other_auth)
        .add_header("x-authsignal-token", token)
        .json(&payment)
        .await;
    assert_eq!(stolen.status_code(), 403, "{}", stolen.text());
    assert_eq!(stolen.json::<Value>()["code"], "step_up_failed");

    let paid = server
        .post("/payments")
        .add_header("authorization", &auth)
        .add_header("x-authsignal-token", token)
        .json(&payment)
        .await;
    assert_eq!(paid.status_code(), 201, "{}", paid.text());
    let record: Value = paid.json();
    assert_eq!(record["steppedUp"], true);
    assert_eq!(record["verificationMethod"], "AUTHENTICATOR_APP");

    let listed: Value = server
        .get("/payments")
        .add_header("authorization", &auth)
        .await
        .json();
    assert_eq!(listed.as_array().unwrap().len(), 2);
    let theirs: Value = server
        .get("/payments")
        .add_header("authorization", &other_auth)
        .await
        .json();
    assert_eq!(theirs, json!([]), "each user sees only their own payments");
}

#[tokio::test]
async fn login_with_a_sign_in_step_up() {
    let (listener, origin) = listener();
    let (app, emulator) = login::with_emulator(&origin).await;
    let server = TestServer::builder()
        .http_transport_with_tcp_listener(listener)
        .build(app);

    assert_eq!(
        server.get("/").await.status_code(),
        303,
        "signed out: to the login page"
    );
    let wrong = server
        .post("/login")
        .form(&[("username", "demo"), ("password", "guess")])
        .await;
    assert_eq!(wrong.status_code(), 401);
    assert!(
        emulator.calls().is_empty(),
        "no step-up before the password is right"
    );

    let started = server
        .post("/login")
        .add_header("accept", NAVIGATION)
        .add_header("sec-fetch-mode", "navigate")
        .form(&[
            ("username", login::DEMO_USER),
            ("password", login::DEMO_PASSWORD),
        ])
        .await;
    assert_eq!(started.status_code(), 303);
    let binding = cookie_pair(&started);
    let ui = started.header("location").to_str().unwrap().to_owned();
    let back = emulator.complete_prebuilt_ui(&ui).await.unwrap();
    assert!(back.starts_with(&format!("{origin}/login/callback?token=")));

    // Without the binding cookie (another browser) the callback refuses.
    let elsewhere = server.get(&path_of(&origin, &back)).await;
    assert_eq!(elsewhere.status_code(), 403);

    let done = server
        .get(&path_of(&origin, &back))
        .add_header("cookie", &binding)
        .await;
    assert_eq!(done.status_code(), 303, "{}", done.text());
    let cookies: Vec<String> = done
        .iter_headers_by_name("set-cookie")
        .map(|value| value.to_str().unwrap().to_owned())
        .collect();
    let session = cookies
        .iter()
        .find(|cookie| cookie.starts_with("demo_session="))
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    assert!(
        cookies.iter().any(|cookie| cookie.contains("Max-Age=0")),
        "binding cookie cleared"
    );
    let home = server.get("/").add_header("cookie", &session).await;
    assert!(
        home.text().contains("Signed in as <b>demo</b>"),
        "{}",
        home.text()
    );
}
