//! The gate on two instances when their Redis fails: stopped mid-run, then restarted;
//! paused (`CLIENT PAUSE ... WRITE`, as in a failover). Whatever needs the store (a new
//! challenge, a returned token, a browser's way back, a sign-in) answers 503 with
//! `Retry-After` and runs nothing, within the store's timeout; once Redis is back the same
//! instances serve again, with no restart. No request gets a 500 or a dropped connection
//! (`Instances::send` checks every one).
//!
//! Each test starts a `redis-server` of its own (`tests/redis_support/`), since it breaks
//! it. The time bounds are loose: what they catch is a request waiting for Redis to come
//! back, not a slow machine.

use std::future::Future;
use std::time::{Duration, Instant};

use crate::instances_support::*;
use crate::redis_support::{RedisServer, redis_installed};
use axum_authsignal::store::DEFAULT_REDIS_TIMEOUT;
use serde_json::{Value, json};

/// The stores' timeout in these tests: the default, what an app gets.
const TIMEOUT: Duration = DEFAULT_REDIS_TIMEOUT;
/// Past this a request is taken to hang: far beyond [`TIMEOUT`], far below [`PAUSE`].
const HANG: Duration = Duration::from_secs(20);
/// How long Redis is paused for, unless unpaused first.
const PAUSE: Duration = Duration::from_secs(120);
/// How long the instances may take to use a restarted Redis again.
const RECOVERY: Duration = Duration::from_secs(30);

/// `request`'s answer, or a failure naming `what` if it has not come within [`HANG`].
async fn within_bound<T>(what: &str, request: impl Future<Output = T>) -> T {
    tokio::time::timeout(HANG, request)
        .await
        .unwrap_or_else(|_| panic!("{what} hung past {HANG:?} with a {TIMEOUT:?} store timeout"))
}

/// Fails unless `response` is the gate's 503: `Retry-After`, and the body for its client
/// (problem+json for an API client, a page for a browser).
fn assert_unavailable(what: &str, response: &reqwest::Response, browser: bool) {
    assert_eq!(response.status(), 503, "{what}");
    assert!(retry_after(response) >= 1, "{what}");
    let media = response.headers()["content-type"].to_str().unwrap();
    let expected = if browser {
        "text/html"
    } else {
        "application/problem+json"
    };
    assert!(media.starts_with(expected), "{what}: {media}");
}

/// A browser's form post of a large withdrawal at `instance`.
async fn submit_form(i: &Instances, instance: &Instance, user: &str) -> reqwest::Response {
    i.browser_post(instance, "/withdraw", user, "amount=2500")
        .await
}

/// A browser back from the pre-built UI: its `?token=` URL, after a form post at
/// `instance`.
async fn browser_back(i: &Instances, instance: &Instance, user: &str) -> String {
    let submitted = submit_form(i, instance, user).await;
    assert_eq!(submitted.status(), 303);
    i.complete_ui(&location(&submitted)).await
}

/// What is in flight when Redis fails: a challenge passed but not yet answered (alice's
/// `token`), a browser on its way back from the pre-built UI (bob's `back`), a browser
/// holding a resume cookie (mallory's `resume`).
struct InFlight {
    token: String,
    back: String,
    resume: String,
}

impl InFlight {
    async fn start(i: &Instances, body: &Value) -> InFlight {
        let (_, token) = i.api_token(&i.a, "alice", body).await;
        let back = browser_back(i, &i.a, "bob").await;
        let resumed = browser_back(i, &i.b, "mallory").await;
        let returned = i.browser_get(&i.b, &resumed, "mallory", None).await;
        assert_eq!(returned.status(), 303);
        let resume = cookie_set(&returned, "authsignal-resume").expect("a resume cookie");
        assert_eq!(i.runs(), 0);
        InFlight {
            token,
            back,
            resume,
        }
    }

    /// Every request that needs the store, at both instances, while it fails: each one a
    /// 503 within the bound, and nothing run.
    async fn all_unavailable(&self, i: &Instances, body: &Value) {
        for instance in [&i.a, &i.b] {
            let at = instance.name;
            let challenge =
                within_bound("a challenge", i.api_post(instance, "alice", body, None)).await;
            assert_unavailable(&format!("a new challenge at {at}"), &challenge, false);
            let form = within_bound("a form", submit_form(i, instance, "bob")).await;
            assert_unavailable(&format!("a browser's new challenge at {at}"), &form, true);
            let answered = within_bound(
                "a returned token",
                i.api_post(instance, "alice", body, Some(&self.token)),
            )
            .await;
            assert_unavailable(&format!("a returned token at {at}"), &answered, false);
            let returned = within_bound(
                "a browser's return",
                i.browser_get(instance, &self.back, "bob", None),
            )
            .await;
            assert_unavailable(&format!("a browser's return at {at}"), &returned, true);
            let resumed = within_bound(
                "a resume",
                i.browser_get(instance, "/withdraw", "mallory", Some(&self.resume)),
            )
            .await;
            assert_unavailable(&format!("a resume at {at}"), &resumed, true);
            let sign_in = within_bound("a sign-in", i.start_sign_in(instance, "alice")).await;
            assert_unavailable(&format!("a sign-in at {at}"), &sign_in, true);
        }
        assert_eq!(i.runs(), 0, "nothing ran while the store failed");
    }

    /// Once Redis is back: the token and the way back are refused at both instances (their
    /// challenges are gone) and run nothing. They fail closed: the user starts again.
    async fn all_refused(&self, i: &Instances, body: &Value) {
        let runs = i.runs();
        for instance in [&i.a, &i.b] {
            let answered = i.api_post(instance, "alice", body, Some(&self.token)).await;
            assert_eq!(answered.status(), 403, "the token at {}", instance.name);
            let returned = i.browser_get(instance, &self.back, "bob", None).await;
            assert_eq!(returned.status(), 403, "the way back at {}", instance.name);
        }
        assert_eq!(i.runs(), runs);
    }
}

/// A challenge at `from` answered at `to`: the handler runs there, once.
async fn challenge_answered_across(i: &Instances, from: &Instance, to: &Instance, body: &Value) {
    let runs = i.runs();
    let (_, token) = i.api_token(from, "alice", body).await;
    let passed = i.api_post(to, "alice", body, Some(&token)).await;
    assert_eq!(passed.status(), 200, "from {} to {}", from.name, to.name);
    let passed: Value = passed.json().await.unwrap();
    assert_eq!(passed["instance"], to.name);
    assert_eq!(i.runs(), runs + 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_redis_gets_503s_that_run_nothing_and_a_restarted_one_serves_again() {
    if !redis_installed(&["redis-server"]) {
        return;
    }
    let mut server = RedisServer::start(&[]);
    let i = Instances::start(&server.url(), TIMEOUT).await;
    let body = json!({ "amount": 5000 });
    let in_flight = InFlight::start(&i, &body).await;

    server.stop();
    in_flight.all_unavailable(&i, &body).await;
    // An allowed action needs no store: it goes through during the outage.
    let small = i
        .api_post(&i.b, "alice", &json!({ "amount": 50 }), None)
        .await;
    assert_eq!(small.status(), 200);
    assert_eq!(i.runs(), 1);

    server.restart();
    // Requests keep coming: each instance answers 503 until its store has reconnected,
    // then challenges again, with no restart of the app.
    let restarted = Instant::now();
    let mut unavailable = 0;
    for instance in [&i.a, &i.b] {
        loop {
            let response = i.api_post(instance, "alice", &body, None).await;
            match response.status().as_u16() {
                401 => break,
                503 => unavailable += 1,
                other => panic!("{other} at {} after the restart", instance.name),
            }
            assert!(
                restarted.elapsed() < RECOVERY,
                "{} did not use the restarted Redis within {RECOVERY:?} ({unavailable} 503s)",
                instance.name
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    let _ = std::io::Write::write_all(
        &mut std::io::stderr(),
        format!(
            "both instances challenged again {:?} after the restart ({unavailable} 503s)\n",
            restarted.elapsed()
        )
        .as_bytes(),
    );
    challenge_answered_across(&i, &i.a, &i.b, &body).await;
    challenge_answered_across(&i, &i.b, &i.a, &body).await;
    // What was in flight was lost with Redis (nothing persisted).
    in_flight.all_refused(&i, &body).await;
    assert_eq!(
        i.runs(),
        3,
        "the allowed action, the two answered challenges"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_redis_is_bounded_by_the_store_timeout_and_answers_503() {
    if !redis_installed(&["redis-server"]) {
        return;
    }
    let server = RedisServer::start(&[]);
    let i = Instances::start(&server.url(), TIMEOUT).await;
    let body = json!({ "amount": 5000 });
    let in_flight = InFlight::start(&i, &body).await;

    // `WRITE` holds every operation of the store (each one writes), and not the test's
    // own `CLIENT UNPAUSE`.
    let mut admin = server.admin();
    let _: () = redis::cmd("CLIENT")
        .arg("PAUSE")
        .arg(PAUSE.as_millis() as u64)
        .arg("WRITE")
        .query(&mut admin)
        .unwrap();
    in_flight.all_unavailable(&i, &body).await;
    let _: () = redis::cmd("CLIENT")
        .arg("UNPAUSE")
        .query(&mut admin)
        .unwrap();

    // The connections were never lost: both instances serve at once.
    challenge_answered_across(&i, &i.a, &i.b, &body).await;
    challenge_answered_across(&i, &i.b, &i.a, &body).await;
    // The takes that timed out were carried out when Redis resumed: the token's and the
    // way back's challenges are gone.
    in_flight.all_refused(&i, &body).await;
    assert_eq!(i.runs(), 2, "the two challenges answered after the pause");
}
