//! The invariants of DESIGN.md section 3, each with a test that fails if it breaks.

use authsignal_emulator::Fault;
use http::StatusCode;
use serde_json::{Value, json};

use crate::support::*;

/// Invariant 2: a token is good once, used one after the other.
#[tokio::test]
async fn a_replayed_token_is_refused() {
    let gate = start(|layer| layer).await;
    let body = json!({ "amount": 5000 });
    let (_, token) = api_token(&gate, "/withdraw", "alice", &body).await;
    assert_eq!(
        api_retry(&gate, "alice", &token, &body).await.status_code(),
        200
    );
    for _ in 0..3 {
        assert_eq!(
            api_retry(&gate, "alice", &token, &body).await.status_code(),
            403
        );
    }
    assert_eq!(gate.runs(), 1);
}

/// Invariant 2: a token is good once, used 100 times at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_hundred_concurrent_uses_run_the_handler_once() {
    // The client's default time bounds: under load a tight attempt timeout would turn slow
    // validations into 503s, which says nothing about the property under test.
    let gate = setup().relaxed_timeouts().start().await;
    let body = json!({ "amount": 5000 });
    let (_, token) = api_token(&gate, "/withdraw", "alice", &body).await;
    let url = format!("{}/withdraw", gate.origin);
    let mut uses = tokio::task::JoinSet::new();
    for _ in 0..100 {
        let (http, url, token, body) =
            (gate.http.clone(), url.clone(), token.clone(), body.clone());
        uses.spawn(async move {
            http.post(url)
                .header(USER_HEADER, "alice")
                .header("x-authsignal-token", token)
                .json(&body)
                .send()
                .await
                .unwrap()
                .status()
        });
    }
    let mut statuses = Vec::new();
    while let Some(status) = uses.join_next().await {
        statuses.push(status.unwrap());
    }
    let ok = statuses.iter().filter(|s| **s == StatusCode::OK).count();
    let forbidden = statuses
        .iter()
        .filter(|s| **s == StatusCode::FORBIDDEN)
        .count();
    assert_eq!((ok, forbidden), (1, 99), "{statuses:?}");
    assert_eq!(gate.runs(), 1);
    assert_logs_clean(&[]);
}

async fn retry(
    gate: &Gate,
    method: http::Method,
    path: &str,
    user: &str,
    token: &str,
    headers: &[(&str, &str)],
    body: &'static [u8],
) -> axum_test::TestResponse {
    let mut request = gate
        .server
        .method(method, path)
        .add_header(USER_HEADER, user)
        .add_header("x-authsignal-token", token);
    for (name, value) in headers {
        request = request.add_header(*name, *value);
    }
    request.bytes(bytes::Bytes::from_static(body)).await
}

/// Invariant 1 and 8: another user's token, another action's token, and a retry that
/// differs from the challenged request in any bound part (method, path, query, body, media
/// type, content encoding) all get the same 403, and the handler never runs. Each case
/// reaches a route that has a handler for it, so that routing cannot refuse in the
/// gate's place.
#[tokio::test]
async fn tokens_are_bound_to_user_action_and_request_with_one_identical_refusal() {
    let gate = start(|layer| layer).await;
    const BODY: &[u8] = br#"{"amount":5000}"#;
    const JSON: (&str, &str) = ("content-type", "application/json");
    let body = json!({ "amount": 5000 });
    let mut refusals = Vec::new();
    let post = http::Method::POST;

    let (_, alices) = api_token(&gate, "/withdraw", "alice", &body).await;
    refusals.push((
        "other user",
        retry(
            &gate,
            post.clone(),
            "/withdraw",
            "mallory",
            &alices,
            &[JSON],
            BODY,
        )
        .await,
    ));

    let (_, payee_token) = api_token(&gate, "/payee", "alice", &json!({ "payee": "x" })).await;
    refusals.push((
        "other action",
        retry(
            &gate,
            post.clone(),
            "/withdraw",
            "alice",
            &payee_token,
            &[JSON],
            BODY,
        )
        .await,
    ));

    type Variant<'a> = (
        &'a str,
        http::Method,
        &'a str,
        &'a [(&'a str, &'a str)],
        &'static [u8],
    );
    let variants: &[Variant] = &[
        (
            "changed amount",
            post.clone(),
            "/withdraw",
            &[JSON],
            br#"{"amount":50000}"#,
        ),
        (
            "other method",
            http::Method::PUT,
            "/withdraw",
            &[JSON],
            BODY,
        ),
        ("other path", post.clone(), "/withdraw/other", &[JSON], BODY),
        (
            "added query",
            post.clone(),
            "/withdraw?to=mallory",
            &[JSON],
            BODY,
        ),
        (
            "other media type",
            post.clone(),
            "/withdraw",
            &[("content-type", "application/x-www-form-urlencoded")],
            BODY,
        ),
        ("no media type", post.clone(), "/withdraw", &[], BODY),
        (
            "added encoding",
            post.clone(),
            "/withdraw",
            &[JSON, ("content-encoding", "gzip")],
            BODY,
        ),
    ];
    for (name, method, path, headers, retried) in variants {
        let (_, token) = api_token(&gate, "/withdraw", "alice", &body).await;
        let response = retry(
            &gate,
            method.clone(),
            path,
            "alice",
            &token,
            headers,
            retried,
        )
        .await;
        refusals.push((name, response));
    }

    // A track token that was never completed is not a pass either.
    let problem = api_challenge(&gate, "/withdraw", "alice", &body).await;
    let track_token = problem["token"].as_str().unwrap();
    refusals.push((
        "unfinished",
        retry(
            &gate,
            post.clone(),
            "/withdraw",
            "alice",
            track_token,
            &[JSON],
            BODY,
        )
        .await,
    ));

    assert_eq!(gate.runs(), 0);
    let first = refusals[0].1.text();
    for (name, response) in &refusals {
        assert_eq!(
            response.status_code(),
            StatusCode::FORBIDDEN,
            "{name}: {}",
            response.text()
        );
        assert_eq!(
            response.text(),
            first,
            "{name}: every refusal has one identical body"
        );
    }
    assert_eq!(
        serde_json::from_str::<Value>(&first).unwrap()["code"],
        "step_up_failed"
    );

    // The positive control: the very request, retried, runs once.
    let (_, token) = api_token(&gate, "/withdraw", "alice", &body).await;
    let same = retry(&gate, post, "/withdraw", "alice", &token, &[JSON], BODY).await;
    assert_eq!(same.status_code(), 200, "{}", same.text());
    assert_eq!(gate.runs(), 1);
}

// Invariants 1 and 6 under every fault, on `track` and on `validateChallenge`, failing
// closed and failing open: the one fault table in `adversarial.rs`
// (`every_fault_on_track_and_validate_against_one_table`); invariant 12 under the same
// table on `getAction` (`every_fault_on_get_action_against_the_table`).

/// The explicit opt-in: a low-risk route may fail open, counted and marked as such.
#[tokio::test]
async fn fail_open_is_an_explicit_counted_opt_in() {
    let gate = start(|layer| layer.fail_open()).await;
    gate.emulator
        .inject_fault("track", Fault::status(StatusCode::BAD_GATEWAY).always());
    let response = gate
        .server
        .post("/withdraw")
        .add_header(USER_HEADER, "alice")
        .json(&json!({ "amount": 5000 }))
        .await;
    assert_eq!(response.status_code(), 200);
    assert_eq!(response.json::<Value>()["failedOpen"], true);
    // Never on an unknown state: that is not an outage.
    gate.emulator.clear_faults();
    gate.emulator
        .inject_fault("track", Fault::unknown_state().always());
    let response = gate
        .server
        .post("/withdraw")
        .add_header(USER_HEADER, "alice")
        .json(&json!({ "amount": 5000 }))
        .await;
    assert_eq!(response.status_code(), 503);
    assert_eq!(gate.runs(), 1);
    assert_eq!(
        gate.config.failed_open_count(),
        1,
        "counted once, for the one outage"
    );
    assert!(log_text().contains("fails open"));
}

/// Invariant 4: `Host` and `X-Forwarded-Host` never change a `Location` or the
/// `redirectUrl` sent to Authsignal.
#[tokio::test]
async fn host_spoofing_changes_no_redirect() {
    let gate = start(|layer| layer).await;
    let response = gate
        .server
        .post("/withdraw")
        .add_header(USER_HEADER, "alice")
        .add_header("accept", NAVIGATION_ACCEPT)
        .add_header("sec-fetch-mode", "navigate")
        .add_header("host", "evil.example")
        .add_header("x-forwarded-host", "evil.example")
        .add_header("x-forwarded-proto", "https")
        .add_header("forwarded", "host=evil.example;proto=https")
        .form(&[("amount", "5000")])
        .await;
    assert_eq!(response.status_code(), 303);
    let location = response.header("location").to_str().unwrap().to_owned();
    assert!(location.starts_with(gate.emulator.origin()), "{location}");
    assert!(!location.contains("evil"));
    // Where the UI sends the browser back is the redirectUrl the gate sent to track.
    let back = complete_ui(&gate, &location).await;
    assert!(
        back.starts_with(&format!("{}/withdraw?token=", gate.origin)),
        "{back}"
    );
}

/// Invariant 7: tokens that cannot be tokens are refused with a 4xx JSON body before
/// anything is sent to Authsignal.
#[tokio::test]
async fn malformed_tokens_are_refused_without_calling_authsignal() {
    let gate = start(|layer| layer).await;
    let long = "a".repeat(8 * 1024);
    let url = |query: &str| format!("{}/withdraw?{query}", gate.origin);
    gate.emulator.clear_calls();
    let mut cases = vec![
        (
            "empty header",
            gate.http.post(url("")).header("x-authsignal-token", ""),
        ),
        (
            "8 KiB header",
            gate.http
                .post(url(""))
                .header("x-authsignal-token", long.as_str()),
        ),
        (
            "space in header",
            gate.http
                .post(url(""))
                .header("x-authsignal-token", "a b.c"),
        ),
        (
            "two headers",
            gate.http
                .post(url(""))
                .header("x-authsignal-token", "a.b.c")
                .header("x-authsignal-token", "d.e.f"),
        ),
        ("empty query", gate.http.get(url("token="))),
        ("CRLF", gate.http.get(url("token=a.b%0D%0AX-Evil:%201"))),
        ("NUL", gate.http.get(url("token=a.b%00c"))),
        (
            "repeated parameter",
            gate.http.get(url("token=a.b.c&token=d.e.f")),
        ),
        ("8 KiB query", gate.http.get(url(&format!("token={long}")))),
        (
            "header and query",
            gate.http
                .get(url("token=a.b.c"))
                .header("x-authsignal-token", "a.b.c"),
        ),
    ];
    for (name, request) in cases.drain(..) {
        let response = request.header(USER_HEADER, "alice").send().await.unwrap();
        let status = response.status();
        assert!(status.is_client_error(), "{name}: {status}");
        let body: Value = response
            .json()
            .await
            .unwrap_or_else(|_| panic!("{name}: JSON body"));
        assert_eq!(body["code"], "token_malformed", "{name}");
    }
    assert!(
        gate.emulator.calls().is_empty(),
        "{:?}",
        gate.emulator.calls()
    );
    assert_eq!(gate.runs(), 0);
    assert_logs_clean(&[]);
}

/// Invariant 3: whatever the suite did so far, no log line holds the secret.
#[tokio::test]
async fn the_secret_never_reaches_the_logs() {
    let gate = start(|layer| layer).await;
    let body = json!({ "amount": 5000 });
    let (problem, token) = api_token(&gate, "/withdraw", "alice", &body).await;
    api_retry(&gate, "alice", &token, &body).await;
    api_retry(&gate, "alice", &token, &body).await;
    assert!(log_text().contains("step_up"), "the capture works");
    assert_logs_clean(&[&token, problem["token"].as_str().unwrap()]);
}
