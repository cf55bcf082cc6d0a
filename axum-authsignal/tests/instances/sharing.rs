//! Two instances of one app sharing one Redis and one emulator (`tests/instances/instances_support/`):
//! a challenge issued by one is answered at the other, a token is good once across both
//! (also under 100 concurrent uses), sign-in finishes on the other instance with the
//! shared cookie key, and a browser's flow completes when every step lands on the other
//! instance than the step before.
//!
//! Redis is a real `redis-server` this binary starts (`tests/redis_support/`): without it
//! the tests say so and skip, with `CI` set they fail. Each test ends by checking the logs
//! of both instances (and of the emulator, Redis' client and the HTTP stacks) for the
//! tenant secret and every token it handled.

use crate::redis_support;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use crate::instances_support::proxy::Hop;
use crate::instances_support::*;
use axum_authsignal::SIGN_IN_COOKIE;
use serde_json::{Value, json};
use tokio::sync::Barrier;
use tokio::task::JoinSet;

/// The stores' timeout: generous, so that a loaded machine does not turn a slow answer
/// into a 503 (`tests/instances/faults.rs` checks the timeout itself).
const TIMEOUT: Duration = Duration::from_secs(5);
/// How many uses of one token race each other.
const USES: usize = 100;

/// The instances on this binary's Redis, and its URL; `None` (after the notice) without
/// redis-server.
async fn start() -> Option<(Instances, String)> {
    let server = redis_support::shared()?;
    Some((Instances::start(&server.url(), TIMEOUT).await, server.url()))
}

/// Fails unless Redis holds no pending challenge of the instances and every key they left
/// expires.
fn assert_nothing_pending(instances: &Instances, redis_url: &str) {
    let keys = instances.keys(redis_url);
    assert!(
        keys.iter()
            .all(|(name, ttl)| !name.contains(":challenge:") && *ttl > 0),
        "{keys:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_challenge_issued_by_one_instance_is_answered_at_the_other_once() {
    let Some((i, redis_url)) = start().await else {
        return;
    };
    let body = json!({ "amount": 5000, "to": "NZ-123" });
    let (problem, token) = i.api_token(&i.a, "alice", &body).await;
    assert_eq!(problem["action"], "withdraw");
    assert_eq!(i.runs(), 0, "a challenge runs nothing");

    // B never saw the challenge; the record A wrote to Redis is what B finds.
    let passed = i.api_post(&i.b, "alice", &body, Some(&token)).await;
    assert_eq!(passed.status(), 200);
    let passed: Value = passed.json().await.unwrap();
    assert_eq!(passed["instance"], "B");
    assert_eq!(passed["user"], "alice");
    assert_eq!(passed["challenged"], true);
    assert_eq!((i.a.runs(), i.b.runs()), (0, 1), "once, on B");

    // Good once, on every instance.
    for instance in [&i.a, &i.b] {
        let replay = i.api_post(instance, "alice", &body, Some(&token)).await;
        assert_eq!(replay.status(), 403, "replayed at {}", instance.name);
    }
    assert_eq!(i.runs(), 1);

    // The binding to the challenged request is in the shared record too: a changed
    // amount sent to B with a token of A's challenge is refused.
    let (_, token) = i.api_token(&i.a, "alice", &body).await;
    let changed = json!({ "amount": 9000, "to": "NZ-123" });
    let refused = i.api_post(&i.b, "alice", &changed, Some(&token)).await;
    assert_eq!(refused.status(), 403);
    assert_eq!(i.runs(), 1);
    assert_nothing_pending(&i, &redis_url);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_uses_of_one_token_across_instances_run_the_handler_once() {
    let Some((i, redis_url)) = start().await else {
        return;
    };
    let body = json!({ "amount": 5000, "to": "NZ-123" });
    let (_, token) = i.api_token(&i.a, "bob", &body).await;
    let i = Arc::new(i);
    let start = Arc::new(Barrier::new(USES));
    let mut uses = JoinSet::new();
    for n in 0..USES {
        let (i, start, body, token) = (i.clone(), start.clone(), body.clone(), token.clone());
        uses.spawn(async move {
            let instance = if n % 2 == 0 { &i.a } else { &i.b };
            start.wait().await;
            let response = i.api_post(instance, "bob", &body, Some(&token)).await;
            (instance.name, response.status().as_u16())
        });
    }
    // How many of each answer each instance gave.
    let mut answers: BTreeMap<(&str, u16), usize> = BTreeMap::new();
    while let Some(answer) = uses.join_next().await {
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
        (1, USES - 1),
        "one use ran, the others were refused: {answers:?}"
    );
    assert_eq!(i.runs(), 1, "{answers:?}");
    for name in ["A", "B"] {
        let at: usize = answers
            .iter()
            .filter(|((instance, _), _)| *instance == name)
            .map(|(_, n)| n)
            .sum();
        assert_eq!(at, USES / 2, "half the uses went to {name}: {answers:?}");
    }
    assert_nothing_pending(&i, &redis_url);
}

/// Sign-in at `instance` for `user` in a browser: (the pre-built UI's URL, binding cookie).
async fn start_sign_in(i: &Instances, instance: &Instance, user: &str) -> (String, String) {
    let started = i.start_sign_in(instance, user).await;
    assert_eq!(started.status(), 303, "at {}", instance.name);
    let cookie = cookie_set(&started, SIGN_IN_COOKIE).expect("a binding cookie");
    let ui = location(&started);
    assert!(ui.starts_with(i.emulator.origin()), "{ui}");
    (ui, cookie)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_started_on_one_instance_finishes_on_the_other_with_the_shared_cookie_key() {
    let Some((i, redis_url)) = start().await else {
        return;
    };
    let (ui, cookie) = start_sign_in(&i, &i.a, "alice").await;
    let back = i.complete_ui(&ui).await;
    assert!(
        back.starts_with(&format!("{}/login/callback?token=", i.origin())),
        "{back}"
    );
    // B checks the cookie A set (one key) and takes the challenge A stored (one Redis).
    let (status, text) = i.finish_sign_in(&i.b, &back, Some(&cookie)).await;
    assert_eq!((status, text.as_str()), (200, "signed in as alice at B"));
    for instance in [&i.a, &i.b] {
        let (status, _) = i.finish_sign_in(instance, &back, Some(&cookie)).await;
        assert_eq!(status, 403, "good once: replayed at {}", instance.name);
    }

    // Login CSRF across instances: the attacker completes a sign-in of their own started
    // on B; the victim's browser holds a binding cookie of its own, set by A.
    let (attacker_ui, attacker_cookie) = start_sign_in(&i, &i.b, "mallory").await;
    let attacker_back = i.complete_ui(&attacker_ui).await;
    let (_, victim_cookie) = start_sign_in(&i, &i.a, "alice").await;
    for instance in [&i.a, &i.b] {
        for cookie in [Some(victim_cookie.as_str()), None] {
            let (status, text) = i.finish_sign_in(instance, &attacker_back, cookie).await;
            assert_eq!(
                status, 403,
                "the attacker's token at {} with {cookie:?}: {text}",
                instance.name
            );
        }
    }
    // The positive control: in the attacker's own browser the same token signs the
    // attacker in, at the instance that did not start it. The refusals were the binding's.
    let (status, text) = i
        .finish_sign_in(&i.a, &attacker_back, Some(&attacker_cookie))
        .await;
    assert_eq!((status, text.as_str()), (200, "signed in as mallory at A"));
    assert_nothing_pending_but_the_victims(&i, &redis_url);
}

/// Only the victim's own sign-in, never finished, is still pending.
fn assert_nothing_pending_but_the_victims(i: &Instances, redis_url: &str) {
    let keys = i.keys(redis_url);
    let pending = keys
        .iter()
        .filter(|(name, _)| name.contains(":challenge:"))
        .count();
    assert_eq!(pending, 1, "{keys:?}");
    assert!(keys.iter().all(|(_, ttl)| *ttl > 0), "{keys:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_browser_flow_alternating_instances_at_every_step_runs_the_handler_once() {
    let Some((i, redis_url)) = start().await else {
        return;
    };
    let form = "amount=2500&to=NZ-123";
    // 1. The form's post, at A: sent to the pre-built UI.
    let submitted = i.browser_post(&i.a, "/withdraw", "alice", form).await;
    assert_eq!(submitted.status(), 303);
    let ui = location(&submitted);
    assert!(ui.starts_with(i.emulator.origin()), "{ui}");
    // 2. The user passes the pre-built UI, which sends the browser back to the origin.
    let back = i.complete_ui(&ui).await;
    // 3. Back with `?token=`, at B: sent to the clean URL with the resume cookie.
    let returned = i.browser_get(&i.b, &back, "alice", None).await;
    assert_eq!(returned.status(), 303);
    let clean = location(&returned);
    assert_eq!(clean, format!("{}/withdraw", i.origin()));
    let cookie = cookie_set(&returned, "authsignal-resume").expect("a resume cookie");
    // 4. The clean URL, at A: the page that posts the form back (the cookie stays for
    //    that post).
    let page = i.browser_get(&i.a, &clean, "alice", Some(&cookie)).await;
    assert_eq!(page.status(), 200);
    let (action, resume) = resume_form(&page.text().await.unwrap());
    assert_eq!(i.runs(), 0, "nothing ran before the resume page's post");
    // 5. Its post, with the cookie, at B: the handler runs there, on the form as it was
    //    first sent.
    let done = i
        .browser_post_with_cookie(&i.b, &action, "alice", &resume, Some(&cookie))
        .await;
    assert_eq!(done.status(), 200);
    let done: Value = done.json().await.unwrap();
    assert_eq!(done["instance"], "B");
    assert_eq!(done["challenged"], true);
    assert_eq!(done["body"], form);
    assert_eq!((i.a.runs(), i.b.runs()), (0, 1));

    // The page posted again (a refresh, the answer that cleared the cookie not yet taken),
    // at A: spent, sent to the clean URL, run nothing.
    let again = i
        .browser_post_with_cookie(&i.a, &action, "alice", &resume, Some(&cookie))
        .await;
    assert_eq!(again.status(), 303);
    assert_eq!(location(&again), clean);
    // And the token's URL again, at either: refused.
    for instance in [&i.a, &i.b] {
        let replay = i.browser_get(instance, &back, "alice", None).await;
        assert_eq!(replay.status(), 403, "at {}", instance.name);
    }
    assert_eq!(i.runs(), 1);
    // Neither the challenge nor the resume record is left.
    let keys = i.keys(&redis_url);
    assert!(
        keys.iter().all(|(name, ttl)| !name.contains(":challenge:")
            && !name.contains(":resume:")
            && *ttl > 0),
        "{keys:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_the_round_robin_proxy_the_two_legs_land_on_different_instances() {
    let Some((i, _)) = start().await else {
        return;
    };
    let body = json!({ "amount": 5000 });
    let through_proxy = |token: Option<&str>| {
        let mut request = i
            .http
            .post(format!("{}/withdraw", i.origin()))
            .header(USER_HEADER, "alice")
            .header("accept", "application/json")
            .json(&body);
        if let Some(token) = token {
            request = request.header("x-authsignal-token", token);
        }
        request
    };
    let challenged = i.send(through_proxy(None)).await;
    assert_eq!(challenged.status(), 401);
    let problem: Value = challenged.json().await.unwrap();
    let token = i
        .pass_totp("alice", problem["token"].as_str().unwrap())
        .await;
    let passed = i.send(through_proxy(Some(&token))).await;
    assert_eq!(passed.status(), 200);
    let passed: Value = passed.json().await.unwrap();
    assert_eq!(passed["instance"], "B");
    assert_eq!(
        i.proxy.take_hops(),
        [
            Hop {
                backend: 0,
                answer: "POST /withdraw -> 401".into()
            },
            Hop {
                backend: 1,
                answer: "POST /withdraw -> 200".into()
            },
        ]
    );
    assert_eq!((i.a.runs(), i.b.runs()), (0, 1));
}
