//! One user cannot deny service to another on Redis either: two instances on a Redis with
//! `maxmemory` (`tests/instances/instances_support/`), one user ("mallory") completing their own
//! browser challenges as fast as they can and never following the 303 back, so that each
//! completion parks a resume record with a large stashed body. Every record of every kind
//! counts against mallory's bound, so mallory is refused with 429 long before Redis is
//! full, and another user ("alice") is challenged and completes meanwhile and after.
//! (`tests/gate/bounds.rs` runs the same attack on `MemoryStore`.)
//!
//! Redis is a `redis-server` of this test's own (`tests/redis_support/`), with a memory
//! bound: without redis-server the test says so and skips, with `CI` set it fails.

use std::time::Duration;

use crate::instances_support::*;
use crate::redis_support::{RedisServer, redis_installed};
use axum_authsignal::store::DEFAULT_PER_USER;
use serde_json::Value;

/// The stores' timeout: generous, so that a loaded machine does not turn a slow answer
/// into a 503.
const TIMEOUT: Duration = Duration::from_secs(5);
/// Redis' memory bound: room for the attacker's bound of records many times over, and
/// for about 350 of them without a per-user bound on resume records.
const MAXMEMORY: &str = "24mb";
/// Each parked form's body: near the gate's 64 KiB limit, as in the attack.
const MEMO_BYTES: usize = 60 * 1024;
/// Rounds an attacker may take before it must have been refused: enough, over the four
/// attackers, to fill [`MAXMEMORY`] twice if nothing refused them sooner.
const MAX_ROUNDS: usize = 200;

/// How one round of the attack ended.
enum Round {
    /// The browser was sent back with a resume cookie, which it never follows.
    Parked,
    /// The gate refused the user with 429 and `Retry-After`.
    Refused,
    /// Anything else: the status and the body.
    Other(u16, String),
}

/// A 429 to a browser: an HTML page with `Retry-After`, at most a challenge's ten minutes
/// away.
fn refused(response: &reqwest::Response) -> Round {
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .unwrap_or_else(|| panic!("a 429 without {name}"))
            .to_str()
            .unwrap()
            .to_owned()
    };
    assert!(header("content-type").starts_with("text/html"), "a page");
    let retry_after: u64 = header("retry-after").parse().expect("seconds");
    assert!((1..=600).contains(&retry_after), "{retry_after}");
    Round::Refused
}

/// One round at `instance`: submit a large challenged form, complete the pre-built UI,
/// come back with the token at the other instance, and stop there.
async fn park_one(i: &Instances, instance: &Instance, memo_bytes: usize) -> Round {
    let form = format!("amount=5000&memo={}", "x".repeat(memo_bytes));
    let submitted = i
        .browser_post(instance, "/withdraw", "mallory", &form)
        .await;
    match submitted.status().as_u16() {
        303 => {}
        429 => return refused(&submitted),
        other => return Round::Other(other, submitted.text().await.unwrap()),
    }
    let back = i.complete_ui(&location(&submitted)).await;
    let other = if instance.name == "A" { &i.b } else { &i.a };
    let returned = i.browser_get(other, &back, "mallory", None).await;
    match returned.status().as_u16() {
        303 => Round::Parked,
        // Another of mallory's rounds took the place this challenge's take freed.
        429 => refused(&returned),
        status => Round::Other(status, returned.text().await.unwrap()),
    }
}

/// One attacker, starting at `instance` and alternating: parks resume records until
/// refused with 429. A full Redis (503) does not stop it: it halves its body and goes on,
/// to fill what room is left. Returns how many records it parked, how many 503s it got,
/// and the round that stopped it.
async fn attack(i: &Instances, first: &Instance) -> (usize, usize, Round) {
    let mut memo_bytes = MEMO_BYTES;
    let (mut parked, mut full) = (0, 0);
    for round in 0..MAX_ROUNDS {
        let instance = if (round % 2 == 0) == (first.name == "A") {
            &i.a
        } else {
            &i.b
        };
        match park_one(i, instance, memo_bytes).await {
            Round::Parked => parked += 1,
            Round::Other(503, _) if memo_bytes > 0 => {
                full += 1;
                memo_bytes /= 2;
            }
            stopped => return (parked, full, stopped),
        }
    }
    panic!("mallory parked {parked} resume records in {MAX_ROUNDS} rounds and was never refused");
}

/// Alice's browser challenge, from the UI at `ui` to the handler's answer, each step at
/// the other instance than the step before.
async fn alice_completes(i: &Instances, ui: &str, form: &str) {
    let back = i.complete_ui(ui).await;
    let returned = i.browser_get(&i.b, &back, "alice", None).await;
    assert_eq!(returned.status(), 303, "alice's return");
    let cookie = cookie_set(&returned, "authsignal-resume").expect("a resume cookie");
    let page = i
        .browser_get(&i.a, &location(&returned), "alice", Some(&cookie))
        .await;
    assert_eq!(page.status(), 200, "alice's resume page");
    let (action, resume) = resume_form(&page.text().await.unwrap());
    let done = i
        .browser_post_with_cookie(&i.b, &action, "alice", &resume, Some(&cookie))
        .await;
    assert_eq!(done.status(), 200, "alice's resumed withdrawal");
    let done: Value = done.json().await.unwrap();
    assert_eq!(done["user"], "alice");
    assert_eq!(done["challenged"], true);
    assert_eq!(done["body"], form);
}

/// Alice's form at A, expected to be sent to the pre-built UI: the UI's URL.
async fn alice_submits(i: &Instances, form: &str) -> String {
    let submitted = i.browser_post(&i.a, "/withdraw", "alice", form).await;
    assert_eq!(
        submitted.status(),
        303,
        "alice's challenge: {}",
        submitted.text().await.unwrap()
    );
    location(&submitted)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_parking_resume_records_on_redis_is_refused_and_another_user_completes() {
    if !redis_installed(&["redis-server"]) {
        return;
    }
    let server =
        RedisServer::start(&["--maxmemory", MAXMEMORY, "--maxmemory-policy", "noeviction"]);
    let i = Instances::start(&server.url(), TIMEOUT).await;
    // Alice is challenged first, and answers while mallory attacks.
    let first_form = "amount=2500";
    let first = alice_submits(&i, first_form).await;
    // Four attackers at once, each as fast as it can, over both instances.
    let attackers = async {
        let (a, b, c, d) = tokio::join!(
            attack(&i, &i.a),
            attack(&i, &i.b),
            attack(&i, &i.a),
            attack(&i, &i.b)
        );
        [a, b, c, d]
    };
    let (attacks, ()) = tokio::join!(attackers, alice_completes(&i, &first, first_form));

    // With mallory's records parked, alice is challenged again and completes.
    let second_form = "amount=3000";
    let second = alice_submits(&i, second_form).await;
    alice_completes(&i, &second, second_form).await;
    assert_eq!(
        i.runs(),
        2,
        "alice's two withdrawals, and nothing of mallory's"
    );

    // Mallory was refused with 429, within her bound, and stays refused.
    for (_, full, stopped) in &attacks {
        assert_eq!(*full, 0, "Redis was full");
        if let Round::Other(status, body) = stopped {
            panic!("mallory got {status}, not 429: {body}");
        }
    }
    let parked: usize = attacks.iter().map(|(parked, _, _)| parked).sum();
    assert!(
        (1..=DEFAULT_PER_USER).contains(&parked),
        "mallory parked {parked} resume records"
    );
    // Nothing of mallory's, of any kind, is past her bound: her records and her index.
    let keys = i.keys(&server.url());
    assert!(keys.len() <= DEFAULT_PER_USER + 1, "{keys:?}");
    assert!(matches!(park_one(&i, &i.a, 0).await, Round::Refused));
}
