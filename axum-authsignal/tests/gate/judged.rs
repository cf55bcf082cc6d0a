//! What is judged is what is booked: an amount that a handler reads as a number reaches
//! Authsignal's rules as that number, however it was written, and the handler's proof
//! carries exactly the values the rules judged, on every way through the gate.

use authsignal_emulator::Fault;
use bytes::Bytes;
use http::StatusCode;
use serde_json::{Value, json};

use crate::support::*;

/// Amounts over the threshold that a handler which trims its field reads as 5000, written
/// so that they are not numbers untrimmed: in a form `+` is a space.
const PADDED_FORMS: [&str; 4] = [
    "amount=+5000",
    "amount=5000%20",
    "amount=%095000",
    "amount=5000%0A",
];

/// The same amounts as JSON strings (which `rust_decimal`'s `Decimal` reads as 5000).
fn padded_json() -> [Value; 5] {
    [
        json!({ "amount": " 5000" }),
        json!({ "amount": "5000 " }),
        json!({ "amount": "\t5000" }),
        json!({ "amount": "5000\n" }),
        json!({ "amount": "5000" }),
    ]
}

/// A form `POST /withdraw` from an API client, with `token` in the header when given.
async fn post_form(
    gate: &Gate,
    user: &str,
    form: &str,
    token: Option<&str>,
) -> (StatusCode, Value) {
    let mut request = gate
        .server
        .post("/withdraw")
        .add_header(USER_HEADER, user)
        .add_header("accept", "application/json")
        .content_type("application/x-www-form-urlencoded")
        .bytes(Bytes::from(form.to_owned()));
    if let Some(token) = token {
        request = request.add_header("x-authsignal-token", token);
    }
    let response = request.await;
    (response.status_code(), response.json::<Value>())
}

/// The handler's proof carries the number judged, and nothing else.
fn assert_judged(passed: &Value, amount: f64, context: &str) {
    assert_eq!(passed["judgedAmount"], json!(amount), "{context}: {passed}");
    assert_eq!(
        passed["judged"],
        json!({ "amount": amount }),
        "{context}: {passed}"
    );
}

#[tokio::test]
async fn padded_form_amounts_are_challenged_and_the_retry_books_the_number_judged() {
    let gate = start(|layer| layer).await;
    for (n, form) in PADDED_FORMS.iter().enumerate() {
        let (status, problem) = post_form(&gate, "alice", form, None).await;
        assert_eq!(status, 401, "{form} must be challenged: {problem}");
        let track_token = remember(problem["token"].as_str().unwrap());
        let token = pass_totp(&gate, "alice", &track_token).await;
        let (status, passed) = post_form(&gate, "alice", form, Some(&token)).await;
        assert_eq!(status, 200, "{form}: {passed}");
        assert_eq!(passed["challenged"], true);
        assert_judged(&passed, 5000.0, form);
        assert_eq!(gate.runs(), n + 1);
    }
}

#[tokio::test]
async fn padded_json_string_amounts_are_challenged_and_the_retry_books_the_number_judged() {
    let gate = start(|layer| layer).await;
    for (n, body) in padded_json().iter().enumerate() {
        let (_, token) = api_token(&gate, "/withdraw", "alice", body).await;
        let response = api_retry(&gate, "alice", &token, body).await;
        assert_eq!(response.status_code(), 200, "{body}: {}", response.text());
        let passed: Value = response.json();
        assert_eq!(passed["challenged"], true);
        assert_judged(&passed, 5000.0, &body.to_string());
        assert_eq!(gate.runs(), n + 1);
    }
}

#[tokio::test]
async fn a_padded_browser_form_is_challenged_and_the_resumed_request_books_the_number_judged() {
    let gate = start(|layer| layer).await;
    for (n, form) in PADDED_FORMS.iter().enumerate() {
        let response = navigate(
            &gate,
            http::Method::POST,
            "/withdraw",
            "alice",
            None,
            Some(form),
        )
        .await;
        assert_eq!(response.status_code(), 303, "{form} must be challenged");
        let location = response.header("location").to_str().unwrap().to_owned();
        assert!(
            location.starts_with(gate.emulator.origin()),
            "{form}: {location}"
        );
        let back = complete_ui(&gate, &location).await;
        let resumed = follow_back(&gate, &back, "alice").await;
        assert_eq!(resumed.status_code(), 200, "{form}: {}", resumed.text());
        let passed: Value = resumed.json();
        assert_eq!(passed["body"], *form, "the stashed body, as it was sent");
        assert_judged(&passed, 5000.0, form);
        assert_eq!(gate.runs(), n + 1);
    }
}

#[tokio::test]
async fn an_allowed_request_books_the_values_sent() {
    let gate = start(|layer| layer).await;
    for form in ["amount=+500", "amount=500%0A", "amount=5e2"] {
        let (status, passed) = post_form(&gate, "alice", form, None).await;
        assert_eq!(status, 200, "{form}: {passed}");
        assert_eq!(passed["challenged"], false);
        assert_judged(&passed, 500.0, form);
    }
    let response = gate
        .server
        .post("/withdraw")
        .add_header(USER_HEADER, "alice")
        .json(&json!({ "amount": " 500", "to": "NZ-1" }))
        .await;
    assert_eq!(response.status_code(), 200);
    assert_judged(&response.json::<Value>(), 500.0, "a JSON string");
    // Text that is no number is sent as text: nothing numeric was judged.
    let (status, passed) = post_form(&gate, "alice", "amount=5+000", None).await;
    assert_eq!(status, 200);
    assert_eq!(passed["judged"], json!({ "amount": "5 000" }));
    assert_eq!(passed["judgedAmount"], Value::Null);
}

#[tokio::test]
async fn a_route_without_custom_values_judges_none() {
    let gate = start(|layer| layer).await;
    let response = gate
        .server
        .post("/payee")
        .add_header(USER_HEADER, "alice")
        .add_header("accept", "application/json")
        .json(&json!({ "amount": 5000 }))
        .await;
    assert_eq!(
        response.status_code(),
        401,
        "changePayee is always challenged"
    );
    let problem: Value = response.json();
    let track_token = remember(problem["token"].as_str().unwrap());
    let token = pass_totp(&gate, "alice", &track_token).await;
    let response = gate
        .server
        .post("/payee")
        .add_header(USER_HEADER, "alice")
        .add_header("x-authsignal-token", &token)
        .json(&json!({ "amount": 5000 }))
        .await;
    assert_eq!(response.status_code(), 200, "{}", response.text());
    let passed: Value = response.json();
    assert_eq!(passed["judged"], Value::Null);
    assert_eq!(passed["judgedAmount"], Value::Null);
}

#[tokio::test]
async fn a_non_finite_amount_is_refused_before_track() {
    let gate = start(|layer| layer).await;
    for form in ["amount=+inf", "amount=NaN%20", "amount=1e400"] {
        let (status, problem) = post_form(&gate, "alice", form, None).await;
        assert_eq!(status, 400, "{form}: {problem}");
    }
    let response = gate
        .server
        .post("/withdraw")
        .add_header(USER_HEADER, "alice")
        .json(&json!({ "amount": " Infinity" }))
        .await;
    assert_eq!(response.status_code(), 400);
    assert_eq!(gate.emulator.call_count("track"), 0);
    assert_eq!(gate.runs(), 0);
}

#[tokio::test]
async fn a_route_that_fails_open_books_the_values_it_would_have_sent() {
    let gate = start(|layer| layer.fail_open()).await;
    gate.emulator.inject_fault(
        "track",
        Fault::status(StatusCode::SERVICE_UNAVAILABLE).always(),
    );
    let (status, passed) = post_form(&gate, "alice", "amount=+5000", None).await;
    assert_eq!(status, 200, "{passed}");
    assert_eq!(passed["failedOpen"], true);
    assert_judged(&passed, 5000.0, "failed open");
}
