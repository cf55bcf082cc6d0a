//! Manual reviews, as the service does them: a rule with the `REVIEW` outcome sends an
//! action to review; `updateAction` sets `REVIEW_SUCCEEDED` or `REVIEW_FAILED`, which
//! `getAction` and `queryUserActions` report. The reviewer's page
//! (`/v1/emulator/reviews`) lists the actions in review with approve and deny, behind the
//! tenant secret, each form with its own CSRF value.

use authsignal::types::{
    QueryUserActionsRequest, TrackAttributes, UpdateActionRequest, UserActionState,
};
use authsignal_emulator::{ActionConfig, Condition, EmulatorHandle, Fault, Outcome, Rule};
use serde_json::json;

use crate::emulator_util::builder;

/// `payment` goes to review above 10 000, and is allowed below.
async fn start() -> EmulatorHandle {
    builder()
        .action(
            "payment",
            ActionConfig::allow().rule(
                Rule::new("very-large", Outcome::ReviewRequired)
                    .when(Condition::custom_above("amount", 10_000.0)),
            ),
        )
        .start()
        .await
        .expect("the emulator starts")
}

/// Tracks a payment of `amount` for `user`: its state and idempotency key.
async fn pay(emulator: &EmulatorHandle, user: &str, amount: u32) -> (UserActionState, String) {
    let attributes = TrackAttributes {
        custom: json!({ "amount": amount }).as_object().cloned(),
        ..TrackAttributes::default()
    };
    let tracked = emulator
        .client()
        .track(user, "payment", attributes)
        .await
        .unwrap();
    (tracked.state, tracked.idempotency_key)
}

fn in_state(state: UserActionState) -> QueryUserActionsRequest {
    QueryUserActionsRequest {
        state: Some(state),
        ..QueryUserActionsRequest::default()
    }
}

#[tokio::test]
async fn update_action_decides_a_review_and_every_read_reports_it() {
    let emulator = start().await;
    let client = emulator.client();
    let (state, approved) = pay(&emulator, "u1", 25_000).await;
    assert_eq!(state, UserActionState::ReviewRequired);
    let (_, denied) = pay(&emulator, "u1", 30_000).await;
    let (small, _) = pay(&emulator, "u1", 5).await;
    assert_eq!(small, UserActionState::Allow);
    let details = client.get_action("u1", "payment", &approved).await.unwrap();
    assert_eq!(details.state, UserActionState::ReviewRequired);
    let waiting = client
        .query_user_actions("u1", &in_state(UserActionState::ReviewRequired))
        .await
        .unwrap();
    assert_eq!(waiting.len(), 2);

    for (key, state) in [
        (&approved, UserActionState::ReviewSucceeded),
        (&denied, UserActionState::ReviewFailed),
    ] {
        let update = UpdateActionRequest {
            state: state.clone(),
        };
        let answered = client
            .update_action("u1", "payment", key, &update)
            .await
            .unwrap();
        assert_eq!(answered.state, state);
        let details = client.get_action("u1", "payment", key).await.unwrap();
        assert_eq!(details.state, state, "getAction reports the decision");
        let found = client
            .query_user_actions("u1", &in_state(state.clone()))
            .await
            .unwrap();
        assert_eq!(found.len(), 1, "{state}");
        assert_eq!(&found[0].idempotency_key, key);
        assert_eq!(
            found[0].state, state,
            "queryUserActions reports the decision"
        );
    }
    let waiting = client
        .query_user_actions("u1", &in_state(UserActionState::ReviewRequired))
        .await
        .unwrap();
    assert!(waiting.is_empty(), "{waiting:?}");
}

/// The reviewer's page as a browser sends it: the secret as Basic auth unless `secret`
/// is `None`.
fn page_request(
    emulator: &EmulatorHandle,
    method: reqwest::Method,
    secret: Option<&str>,
) -> reqwest::RequestBuilder {
    let request = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .request(method, format!("{}/emulator/reviews", emulator.api_url()));
    match secret {
        Some(secret) => request.basic_auth(secret, Some("")),
        None => request,
    }
}

/// The value of the hidden field `name` of the `n`th form on `html`.
fn field(html: &str, n: usize, name: &str) -> String {
    let form = html.split("<form").nth(n + 1).expect("a form");
    form.split(&format!("name=\"{name}\" value=\""))
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_else(|| panic!("no {name} in {form}"))
        .to_owned()
}

#[tokio::test]
async fn the_reviewer_page_lists_actions_in_review_and_decides_them() {
    let emulator = start().await;
    let client = emulator.client();
    let (_, key) = pay(&emulator, "u<1>", 25_000).await;
    pay(&emulator, "u2", 5).await;

    let page = page_request(&emulator, reqwest::Method::GET, Some(emulator.secret()))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    assert_eq!(page.headers()["cache-control"], "no-store");
    let csp = page.headers()["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("default-src 'none'") && csp.contains("frame-ancestors 'none'"));
    let html = page.text().await.unwrap();
    assert!(html.contains("id=\"review-0\""), "{html}");
    assert!(
        !html.contains("id=\"review-1\""),
        "only the action in review: {html}"
    );
    assert!(html.contains("u&lt;1&gt;"), "escaped: {html}");
    assert!(!html.contains("u<1>"));
    assert!(html.contains(&key));
    assert!(html.contains("id=\"approve-0\"") && html.contains("id=\"deny-0\""));
    let csrf = field(&html, 0, "csrf");

    let decide = |decision: &str, csrf: &str, key: &str| {
        page_request(&emulator, reqwest::Method::POST, Some(emulator.secret())).form(&[
            ("userId", "u<1>"),
            ("action", "payment"),
            ("idempotencyKey", key),
            ("decision", decision),
            ("csrf", csrf),
        ])
    };
    // Without the form's CSRF value (a form posted from another site), or with another
    // action's: 403, nothing decided.
    let (_, other_key) = pay(&emulator, "u<1>", 20_000).await;
    for (csrf, key) in [
        ("", key.as_str()),
        ("00", key.as_str()),
        (csrf.as_str(), other_key.as_str()),
    ] {
        let refused = decide("approve", csrf, key).send().await.unwrap();
        assert_eq!(refused.status(), 403, "{csrf:?} {key}");
    }
    let details = client.get_action("u<1>", "payment", &key).await.unwrap();
    assert_eq!(details.state, UserActionState::ReviewRequired);
    let bad = decide("maybe", &csrf, &key).send().await.unwrap();
    assert_eq!(bad.status(), 400);

    let approved = decide("approve", &csrf, &key).send().await.unwrap();
    assert_eq!(approved.status(), 303);
    assert_eq!(approved.headers()["location"], "/v1/emulator/reviews");
    let details = client.get_action("u<1>", "payment", &key).await.unwrap();
    assert_eq!(details.state, UserActionState::ReviewSucceeded);
    // Decided: no longer in review.
    let again = decide("deny", &csrf, &key).send().await.unwrap();
    assert_eq!(again.status(), 409);
    let details = client.get_action("u<1>", "payment", &key).await.unwrap();
    assert_eq!(details.state, UserActionState::ReviewSucceeded);
}

#[tokio::test]
async fn the_reviewer_page_takes_the_secret_and_no_fault() {
    let emulator = start().await;
    pay(&emulator, "u1", 25_000).await;
    for secret in [None, Some("wrong")] {
        for method in [reqwest::Method::GET, reqwest::Method::POST] {
            let refused = page_request(&emulator, method.clone(), secret)
                .send()
                .await
                .unwrap();
            assert_eq!(refused.status(), 401, "{method} {secret:?}");
            let challenge = refused.headers()["www-authenticate"].to_str().unwrap();
            assert!(challenge.starts_with("Basic "), "{challenge}");
            let body = refused.text().await.unwrap();
            assert!(!body.contains("u1"), "nothing listed: {body}");
        }
    }
    emulator.inject_fault(
        "*",
        Fault::status(http::StatusCode::SERVICE_UNAVAILABLE).always(),
    );
    let page = page_request(&emulator, reqwest::Method::GET, Some(emulator.secret()))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200, "no fault reaches the reviewer's page");
    // Recorded under its own name, the four refused calls too.
    assert_eq!(emulator.call_count("emulatorReviews"), 5);
}
