//! A request held for a review on two instances sharing Redis: held at one, approved in
//! the back office, then 100 concurrent comebacks spread over both run the handler once;
//! a comeback after a denial runs nothing; held requests count against the user's bound
//! on Redis as challenges do.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use authsignal::types::{UpdateActionRequest, UserActionState};
use authsignal_emulator::ActionConfig;
use axum_authsignal::REVIEW_HEADER;
use axum_authsignal::store::DEFAULT_PER_USER;
use serde_json::{Value, json};
use tokio::sync::Barrier;
use tokio::task::JoinSet;

use crate::instances_support::*;
use crate::redis_support;

/// The stores' timeout: generous, so that a loaded machine does not turn a slow answer
/// into a 503.
const TIMEOUT: Duration = Duration::from_secs(5);
/// How many comebacks race each other after the approval.
const COMEBACKS: usize = 100;

/// The instances on this binary's Redis, every payment sent to review; `None` (after the
/// notice) without redis-server.
async fn start() -> Option<(Instances, String)> {
    let server = redis_support::shared()?;
    let i = Instances::start(&server.url(), TIMEOUT).await;
    i.emulator.set_action("payment", ActionConfig::review());
    Some((i, server.url()))
}

/// `POST /payment` of `body` at `instance` as `user`, with the review id if given.
async fn pay(
    i: &Instances,
    instance: &Instance,
    user: &str,
    body: &Value,
    review: Option<&str>,
) -> reqwest::Response {
    let mut request = i
        .http
        .post(format!("{}/payment", instance.url))
        .header(USER_HEADER, user)
        .header("accept", "application/json")
        .json(body);
    if let Some(review) = review {
        request = request.header(REVIEW_HEADER, review);
    }
    i.send(request).await
}

/// A payment held at `instance`: its idempotency key.
async fn held(i: &Instances, instance: &Instance, user: &str, body: &Value) -> String {
    let response = pay(i, instance, user, body, None).await;
    assert_eq!(response.status(), 202, "at {}", instance.name);
    let problem: Value = response.json().await.unwrap();
    problem["idempotencyKey"].as_str().unwrap().to_owned()
}

async fn decide(i: &Instances, user: &str, key: &str, state: UserActionState) {
    i.emulator
        .client()
        .update_action(user, "payment", key, &UpdateActionRequest { state })
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_comebacks_after_approval_across_instances_run_the_handler_once() {
    let Some((i, redis_url)) = start().await else {
        return;
    };
    let body = json!({ "amount": 25000, "to": "NZ-123" });
    let key = held(&i, &i.a, "bob", &body).await;
    // Still in review, at either instance: 202, nothing runs.
    for instance in [&i.a, &i.b] {
        let waiting = pay(&i, instance, "bob", &body, Some(&key)).await;
        assert_eq!(waiting.status(), 202, "at {}", instance.name);
    }
    decide(&i, "bob", &key, UserActionState::ReviewSucceeded).await;

    let i = Arc::new(i);
    let start = Arc::new(Barrier::new(COMEBACKS));
    let mut comebacks = JoinSet::new();
    for n in 0..COMEBACKS {
        let (i, start, body, key) = (i.clone(), start.clone(), body.clone(), key.clone());
        comebacks.spawn(async move {
            let instance = if n % 2 == 0 { &i.a } else { &i.b };
            start.wait().await;
            let response = pay(&i, instance, "bob", &body, Some(&key)).await;
            (instance.name, response.status().as_u16())
        });
    }
    let mut answers: BTreeMap<(&str, u16), usize> = BTreeMap::new();
    while let Some(answer) = comebacks.join_next().await {
        *answers.entry(answer.unwrap()).or_default() += 1;
    }
    let of = |status| -> usize {
        answers
            .iter()
            .filter(|((_, s), _)| *s == status)
            .map(|(_, n)| n)
            .sum()
    };
    assert_eq!(
        (of(200), of(403)),
        (1, COMEBACKS - 1),
        "one comeback ran, the others were refused: {answers:?}"
    );
    assert_eq!(i.runs(), 1, "{answers:?}");
    // The held request ended with its record.
    let keys = i.keys(&redis_url);
    assert!(
        keys.iter().all(|(name, _)| !name.contains(":review:")),
        "{keys:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_comeback_after_a_denial_runs_nothing_on_either_instance() {
    let Some((i, redis_url)) = start().await else {
        return;
    };
    let body = json!({ "amount": 25000 });
    let key = held(&i, &i.b, "alice", &body).await;
    decide(&i, "alice", &key, UserActionState::ReviewFailed).await;
    let denied = pay(&i, &i.a, "alice", &body, Some(&key)).await;
    assert_eq!(denied.status(), 403);
    decide(&i, "alice", &key, UserActionState::ReviewSucceeded).await;
    for instance in [&i.a, &i.b] {
        let after = pay(&i, instance, "alice", &body, Some(&key)).await;
        assert_eq!(after.status(), 403, "at {}", instance.name);
    }
    assert_eq!(i.runs(), 0);
    let keys = i.keys(&redis_url);
    assert!(
        keys.iter().all(|(name, _)| !name.contains(":review:")),
        "{keys:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn held_requests_count_against_the_users_bound_on_redis() {
    let Some((i, _)) = start().await else {
        return;
    };
    for n in 0..DEFAULT_PER_USER {
        let instance = if n % 2 == 0 { &i.a } else { &i.b };
        held(&i, instance, "mallory", &json!({ "amount": 20000 + n })).await;
    }
    let over = pay(&i, &i.a, "mallory", &json!({ "amount": 1 }), None).await;
    assert_eq!(over.status(), 429);
    held(&i, &i.b, "alice", &json!({ "amount": 1 })).await;
    assert_eq!(i.runs(), 0);
}
