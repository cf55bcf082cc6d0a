//! A route that holds reviews (`hold_reviews`): the request Authsignal sends to a manual
//! review is held (202), and runs once when `getAction` reports that very action
//! approved; a denial, the end of the hold, another request or another user never runs
//! it. API clients come back with the review header, browsers from a waiting page that
//! refreshes itself and resumes as after a challenge.

use std::sync::Arc;
use std::time::Duration;

use authsignal::types::{QueryUserActionsRequest, UpdateActionRequest, UserActionState};
use authsignal_emulator::{ActionConfig, Fault};
use axum_authsignal::store::MemoryStore;
use axum_authsignal::{REVIEW_HEADER, StepUpLayer};
use http::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::task::JoinSet;

use crate::support::*;

/// The harness with the `withdraw` gate holding reviews (`configure` sets the rest), and
/// every withdrawal sent to review.
async fn holding(configure: impl FnOnce(StepUpLayer) -> StepUpLayer + 'static) -> Gate {
    held_reviews(start(|layer| configure(layer.hold_reviews())).await)
}

/// The harness holding reviews on an `https` origin, where the cookies are `__Host-`.
async fn holding_on_https() -> Gate {
    held_reviews(
        setup()
            .redirect_origin("https://app.example")
            .layer(|layer| layer.hold_reviews())
            .start()
            .await,
    )
}

/// `gate` with every withdrawal sent to review.
fn held_reviews(gate: Gate) -> Gate {
    gate.emulator.set_action("withdraw", ActionConfig::review());
    gate
}

/// An API client's first attempt, held: the problem body.
async fn held(gate: &Gate, user: &str, body: &Value) -> Value {
    let response = gate
        .server
        .post("/withdraw")
        .add_header(USER_HEADER, user)
        .add_header("accept", "application/json")
        .json(body)
        .await;
    assert_eq!(response.status_code(), 202, "{}", response.text());
    assert_eq!(response.header("retry-after"), "30");
    assert_eq!(response.header("cache-control"), "no-store");
    assert_eq!(response.header("content-type"), "application/problem+json");
    response.json()
}

/// An API client back with `body` and `key` in the review header.
async fn come_back(gate: &Gate, user: &str, key: &str, body: &Value) -> axum_test::TestResponse {
    gate.server
        .post("/withdraw")
        .add_header(USER_HEADER, user)
        .add_header("accept", "application/json")
        .add_header(REVIEW_HEADER, key)
        .json(body)
        .await
}

/// The back office's decision, through the Server API.
async fn decide(gate: &Gate, user: &str, key: &str, state: UserActionState) {
    gate.client
        .update_action(user, "withdraw", key, &UpdateActionRequest { state })
        .await
        .expect("the emulator takes the decision");
}

/// The idempotency key of `user`'s one withdrawal in review, as a back office finds it
/// (`queryUserActions`).
async fn in_review(gate: &Gate, user: &str) -> String {
    let query = QueryUserActionsRequest {
        codes: vec!["withdraw".into()],
        state: Some(UserActionState::ReviewRequired),
        ..QueryUserActionsRequest::default()
    };
    let found = gate.client.query_user_actions(user, &query).await.unwrap();
    assert_eq!(found.len(), 1, "{found:?}");
    found[0].idempotency_key.clone()
}

fn key_of(problem: &Value) -> String {
    problem["idempotencyKey"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_held_request_runs_once_when_its_reviewer_approves_it() {
    let gate = holding(|layer| layer).await;
    let body = json!({ "amount": 5, "to": "NZ-1" });
    let problem = held(&gate, "alice", &body).await;
    assert_eq!(problem["status"], 202);
    assert_eq!(problem["code"], "action_in_review");
    assert_eq!(problem["action"], "withdraw");
    assert_eq!(problem["reviewHeader"], REVIEW_HEADER);
    assert!(problem["expiresAt"].as_u64().unwrap() > 0);
    let key = key_of(&problem);
    assert_eq!(gate.runs(), 0, "a held request does not run");

    // Still in review: 202 again, and nothing runs.
    let waiting = come_back(&gate, "alice", &key, &body).await;
    assert_eq!(waiting.status_code(), 202, "{}", waiting.text());
    assert_eq!(waiting.header("retry-after"), "30");
    assert_eq!(waiting.json::<Value>()["idempotencyKey"], key.as_str());
    assert_eq!(gate.runs(), 0);

    decide(&gate, "alice", &key, UserActionState::ReviewSucceeded).await;
    let ran = come_back(&gate, "alice", &key, &body).await;
    assert_eq!(ran.status_code(), 200, "{}", ran.text());
    let ran = ran.json::<Value>();
    assert_eq!(ran["reviewed"], true);
    assert_eq!(ran["challenged"], false);
    assert_eq!(ran["idempotencyKey"], key.as_str());
    assert_eq!(
        ran["judgedAmount"], 5.0,
        "the proof carries what the rules judged"
    );
    assert_eq!(gate.runs(), 1);

    // Once: the record went with the run.
    let again = come_back(&gate, "alice", &key, &body).await;
    assert_eq!(again.status_code(), 403);
    assert_eq!(again.json::<Value>()["code"], "step_up_failed");
    assert_eq!(gate.runs(), 1);
}

#[tokio::test]
async fn a_different_request_with_a_real_id_is_refused_and_spends_nothing() {
    let gate = holding(|layer| layer).await;
    let body = json!({ "amount": 5, "to": "NZ-1" });
    let key = key_of(&held(&gate, "alice", &body).await);
    decide(&gate, "alice", &key, UserActionState::ReviewSucceeded).await;
    let first = come_back(&gate, "alice", &key, &json!({ "amount": 6, "to": "NZ-1" })).await;
    let mut refusals = vec![first];
    for (method, path, media, payload) in [
        (
            Method::PUT,
            "/withdraw",
            "application/json",
            r#"{"amount":5,"to":"NZ-1"}"#,
        ),
        (
            Method::POST,
            "/withdraw/other",
            "application/json",
            r#"{"amount":5,"to":"NZ-1"}"#,
        ),
        (
            Method::POST,
            "/withdraw?x=1",
            "application/json",
            r#"{"amount":5,"to":"NZ-1"}"#,
        ),
        (
            Method::POST,
            "/withdraw",
            "text/plain",
            r#"{"amount":5,"to":"NZ-1"}"#,
        ),
        (
            Method::POST,
            "/withdraw",
            "application/json",
            r#"{"to":"NZ-1","amount":5}"#,
        ),
    ] {
        let response = gate
            .server
            .method(method, path)
            .add_header(USER_HEADER, "alice")
            .add_header(REVIEW_HEADER, &key)
            .content_type(media)
            .bytes(payload.as_bytes().to_vec().into())
            .await;
        refusals.push(response);
    }
    let bodies: Vec<String> = refusals.iter().map(|response| response.text()).collect();
    for (n, response) in refusals.iter().enumerate() {
        assert_eq!(response.status_code(), 403, "{n}: {}", bodies[n]);
        assert_eq!(bodies[n], bodies[0], "one identical 403");
    }
    assert_eq!(gate.runs(), 0);
    // The held request was not spent by them.
    let ran = come_back(&gate, "alice", &key, &body).await;
    assert_eq!(ran.status_code(), 200, "{}", ran.text());
    assert_eq!(gate.runs(), 1);
}

#[tokio::test]
async fn another_users_id_finds_nothing_and_leaves_the_held_request() {
    let gate = holding(|layer| layer).await;
    let body = json!({ "amount": 5 });
    let key = key_of(&held(&gate, "alice", &body).await);
    decide(&gate, "alice", &key, UserActionState::ReviewSucceeded).await;
    let stolen = come_back(&gate, "mallory", &key, &body).await;
    assert_eq!(stolen.status_code(), 403, "{}", stolen.text());
    assert_eq!(gate.runs(), 0);
    assert_eq!(
        come_back(&gate, "alice", &key, &body).await.status_code(),
        200
    );
    assert_eq!(gate.runs(), 1);
}

#[tokio::test]
async fn a_denial_never_runs_it_even_if_approved_after() {
    let gate = holding(|layer| layer).await;
    let body = json!({ "amount": 5 });
    let key = key_of(&held(&gate, "alice", &body).await);
    decide(&gate, "alice", &key, UserActionState::ReviewFailed).await;
    let denied = come_back(&gate, "alice", &key, &body).await;
    assert_eq!(denied.status_code(), 403, "{}", denied.text());
    assert!(denied.maybe_header("retry-after").is_none());
    let denied_body = denied.text();
    // The denial ended the held record: a later approval finds nothing.
    decide(&gate, "alice", &key, UserActionState::ReviewSucceeded).await;
    let after = come_back(&gate, "alice", &key, &body).await;
    assert_eq!(after.status_code(), 403);
    assert_eq!(after.text(), denied_body, "one identical 403");
    assert_eq!(gate.runs(), 0);
}

#[tokio::test]
async fn past_the_hold_an_approval_runs_nothing() {
    let gate = holding(|layer| layer.hold_reviews_for(Duration::from_secs(1))).await;
    let body = json!({ "amount": 5 });
    let key = key_of(&held(&gate, "alice", &body).await);
    decide(&gate, "alice", &key, UserActionState::ReviewSucceeded).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let late = come_back(&gate, "alice", &key, &body).await;
    assert_eq!(late.status_code(), 403, "{}", late.text());
    assert_eq!(gate.runs(), 0);
}

#[tokio::test]
async fn an_unknown_or_malformed_id_runs_nothing() {
    let gate = holding(|layer| layer).await;
    let body = json!({ "amount": 5 });
    gate.emulator.clear_calls();
    for bad in ["../../x", "a b", &"k".repeat(65)] {
        let response = come_back(&gate, "alice", bad, &body).await;
        assert_eq!(response.status_code(), 400, "{bad:?}");
        assert_eq!(response.json::<Value>()["code"], "review_id_malformed");
    }
    assert_eq!(gate.emulator.call_count("getAction"), 0, "nothing sent");
    let unknown = come_back(
        &gate,
        "alice",
        "0b6c6d3e-5d0a-4c4e-9a59-6f1b2f7c8d90",
        &body,
    )
    .await;
    assert_eq!(unknown.status_code(), 403, "{}", unknown.text());
    assert_eq!(gate.runs(), 0);
}

/// Held requests count against the user's bound like challenges; others are unaffected.
#[tokio::test]
async fn held_requests_count_against_the_users_bound() {
    let store = Arc::new(MemoryStore::builder().per_user(2).build());
    let gate = setup()
        .config(move |config| config.store(store))
        .layer(StepUpLayer::hold_reviews)
        .start()
        .await;
    gate.emulator.set_action("withdraw", ActionConfig::review());
    held(&gate, "mallory", &json!({ "amount": 1 })).await;
    held(&gate, "mallory", &json!({ "amount": 2 })).await;
    let over = gate
        .server
        .post("/withdraw")
        .add_header(USER_HEADER, "mallory")
        .json(&json!({ "amount": 3 }))
        .await;
    assert_eq!(over.status_code(), 429, "{}", over.text());
    held(&gate, "alice", &json!({ "amount": 3 })).await;
}

/// The route's `fail_open` never opens a review; a fault on `getAction` is a 503 and the
/// request stays held (the faults of the whole catalogue are in `adversarial.rs`).
#[tokio::test]
async fn a_failing_get_action_is_503_and_keeps_the_request_held() {
    let gate = holding(StepUpLayer::fail_open).await;
    let body = json!({ "amount": 5 });
    let key = key_of(&held(&gate, "alice", &body).await);
    decide(&gate, "alice", &key, UserActionState::ReviewSucceeded).await;
    gate.emulator.inject_fault(
        "getAction",
        Fault::status(StatusCode::SERVICE_UNAVAILABLE).always(),
    );
    let out = come_back(&gate, "alice", &key, &body).await;
    assert_eq!(out.status_code(), 503, "{}", out.text());
    assert!(out.maybe_header("retry-after").is_some());
    assert_eq!(gate.runs(), 0);
    assert_eq!(gate.config.failed_open_count(), 0);
    gate.emulator.clear_faults();
    assert_eq!(
        come_back(&gate, "alice", &key, &body).await.status_code(),
        200
    );
    assert_eq!(gate.runs(), 1);
}

#[tokio::test]
async fn concurrent_comebacks_after_approval_run_it_once() {
    let gate = setup()
        .relaxed_timeouts()
        .layer(StepUpLayer::hold_reviews)
        .start()
        .await;
    gate.emulator.set_action("withdraw", ActionConfig::review());
    let gate = Arc::new(gate);
    let body = json!({ "amount": 5 });
    let key = key_of(&held(&gate, "alice", &body).await);
    decide(&gate, "alice", &key, UserActionState::ReviewSucceeded).await;
    let mut comebacks = JoinSet::new();
    for _ in 0..20 {
        let (gate, key, body) = (gate.clone(), key.clone(), body.clone());
        comebacks.spawn(async move { come_back(&gate, "alice", &key, &body).await.status_code() });
    }
    let mut statuses = Vec::new();
    while let Some(status) = comebacks.join_next().await {
        statuses.push(status.unwrap().as_u16());
    }
    statuses.sort_unstable();
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?}"
    );
    assert!(
        statuses.iter().all(|s| [200, 403].contains(s)),
        "{statuses:?}"
    );
    assert_eq!(gate.runs(), 1);
}

/// Without `hold_reviews`, a review is refused as before, and the review header is an
/// ordinary header.
#[tokio::test]
async fn a_route_that_does_not_hold_reviews_refuses_them() {
    let gate = start(|layer| layer).await;
    gate.emulator.set_action("withdraw", ActionConfig::review());
    let body = json!({ "amount": 5 });
    let refused = come_back(&gate, "alice", "some-key", &body).await;
    assert_eq!(refused.status_code(), 403);
    assert_eq!(refused.json::<Value>()["code"], "action_in_review");
    assert_eq!(gate.runs(), 0);
}

/// A method the route does not gate was never held: its review header is an ordinary
/// header, and nothing is asked of Authsignal.
#[tokio::test]
async fn a_method_the_route_does_not_gate_asks_nothing_about_a_review() {
    let gate = holding(|layer| layer.methods([Method::PUT])).await;
    gate.emulator.clear_calls();
    let response = come_back(&gate, "alice", "some-key", &json!({ "amount": 5 })).await;
    // The handler asks for a proof that no gate gave: the route's own misconfiguration.
    assert_eq!(response.status_code(), 500, "{}", response.text());
    assert_eq!(gate.emulator.call_count("getAction"), 0);
    assert_eq!(gate.runs(), 0);
}

// ---------------------------------------------------------------------------------------
// Browsers.

/// The review cookie's name for the `withdraw` gate at `/withdraw`, from the response.
fn review_cookie(response: &axum_test::TestResponse) -> Option<String> {
    response
        .iter_headers_by_name("set-cookie")
        .filter_map(|value| value.to_str().ok())
        .find(|value| {
            value.starts_with("authsignal-review-")
                || value.starts_with("__Host-authsignal-review-")
        })
        .map(str::to_owned)
}

/// The waiting page's refresh target, checked to be a no-script refresh on the origin.
fn refresh_target(gate: &Gate, page: &axum_test::TestResponse) -> String {
    assert_eq!(page.status_code(), 202, "{}", page.text());
    assert_eq!(page.header("cache-control"), "no-store");
    assert!(
        page.header("content-type")
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let html = page.text();
    assert!(!html.contains("<script"), "works without script: {html}");
    let refresh = html
        .split("http-equiv=\"refresh\" content=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_else(|| panic!("a refresh: {html}"));
    let url = refresh.split_once(";url=").expect("a refresh with a URL").1;
    local_path(&gate.origin, &url.replace("&amp;", "&"))
}

#[tokio::test]
async fn a_browser_waits_on_a_page_that_refreshes_and_resumes_on_approval() {
    let gate = holding(|layer| layer).await;
    waits_then_resumes_on_approval(&gate, "authsignal-review-").await;
}

#[tokio::test]
async fn on_an_https_origin_the_review_cookie_is_a_host_cookie_and_the_browser_resumes() {
    let gate = holding_on_https().await;
    waits_then_resumes_on_approval(&gate, "__Host-authsignal-review-").await;
}

/// A browser's held withdrawal on `gate`: the waiting page (its review cookie named
/// `cookie_prefix` and the route's tag), refreshed while in review, then resumed once on
/// approval, nothing of the review left in the browser.
async fn waits_then_resumes_on_approval(gate: &Gate, cookie_prefix: &str) {
    let mut jar = Jar::default();
    let form = "amount=5&memo=rent";
    let page = navigate_with(
        gate,
        &mut jar,
        Method::POST,
        "/withdraw",
        "alice",
        Some(form),
    )
    .await;
    let check = refresh_target(gate, &page);
    assert_eq!(check, "/withdraw");
    let cookie = review_cookie(&page).expect("a review cookie");
    assert!(cookie.starts_with(cookie_prefix), "{cookie}");
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert_eq!(gate.runs(), 0);

    // The refresh, still in review: the page again.
    let again = navigate_with(gate, &mut jar, Method::GET, &check, "alice", None).await;
    assert_eq!(refresh_target(gate, &again), "/withdraw");
    assert_eq!(gate.runs(), 0);

    let key = in_review(gate, "alice").await;
    decide(gate, "alice", &key, UserActionState::ReviewSucceeded).await;
    // The next refresh hands the request to the resume, as a completed challenge does.
    let approved = navigate_with(gate, &mut jar, Method::GET, &check, "alice", None).await;
    assert_eq!(approved.status_code(), 303, "{}", approved.text());
    assert!(
        review_cookie(&approved).is_some_and(|cookie| cookie.contains("Max-Age=0")),
        "the review cookie goes"
    );
    let clean = local_path(&gate.origin, approved.header("location").to_str().unwrap());
    let (action, posted) = resume_page(gate, &mut jar, &clean, "alice").await;
    let done = navigate_with(
        gate,
        &mut jar,
        Method::POST,
        &action,
        "alice",
        Some(&posted),
    )
    .await;
    assert_eq!(done.status_code(), 200, "{}", done.text());
    let done = done.json::<Value>();
    assert_eq!(done["reviewed"], true);
    assert_eq!(done["body"], form, "the held form, as it was sent");
    assert_eq!(done["idempotencyKey"], key.as_str());
    assert_eq!(gate.runs(), 1);
    assert_eq!(
        jar.header(),
        None,
        "nothing of the review is left in the browser"
    );
}

#[tokio::test]
async fn a_browser_sees_the_refusal_page_on_a_denial() {
    let gate = holding(|layer| layer).await;
    let mut jar = Jar::default();
    let page = navigate_with(
        &gate,
        &mut jar,
        Method::POST,
        "/withdraw",
        "alice",
        Some("amount=5"),
    )
    .await;
    let check = refresh_target(&gate, &page);
    let key = in_review(&gate, "alice").await;
    decide(&gate, "alice", &key, UserActionState::ReviewFailed).await;
    let denied = navigate_with(&gate, &mut jar, Method::GET, &check, "alice", None).await;
    assert_eq!(denied.status_code(), 403, "{}", denied.text());
    assert!(
        denied
            .header("content-type")
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert_eq!(jar.header(), None, "the review cookie goes");
    assert_eq!(gate.runs(), 0);
}
