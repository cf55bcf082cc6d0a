//! One user cannot deny service to another with records of any kind: a user who completes
//! their own browser challenges and never follows the 303 back parks a resume record each
//! time (holding the stashed body), and those count against their bound like pending
//! challenges. Past it they get 429; another user is still challenged and completes.
//! (`tests/instances/faults.rs` runs the same attack on Redis with `maxmemory`.)

use std::sync::Arc;
use std::time::Duration;

use axum::routing::post;
use axum::{Extension, Router};
use axum_authsignal::StepUp;
use axum_authsignal::store::{
    DEFAULT_PER_USER, MemoryStore, PendingChallenge, PendingChallengeStore, RecordKey, RecordKind,
    StoreFuture,
};
use axum_test::TestServer;
use http::Method;
use serde_json::{Value, json};

use crate::support::*;

/// Room for the attacker's bound of records with bodies this large, and a few more:
/// without a per-user bound on resume records, about 16 fill it.
const STORE_BYTES: usize = 1024 * 1024;
/// Each parked form's body: near the gate's 64 KiB limit, as in the attack.
const MEMO_BYTES: usize = 60 * 1024;
/// Rounds an attacker may take before it must have been refused: far past the bound.
const MAX_ROUNDS: usize = 4 * DEFAULT_PER_USER;

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
fn refused(response: &axum_test::TestResponse) -> Round {
    assert!(
        response
            .header("content-type")
            .to_str()
            .unwrap()
            .starts_with("text/html"),
        "a browser gets a page"
    );
    let retry_after: u64 = response
        .header("retry-after")
        .to_str()
        .unwrap()
        .parse()
        .expect("Retry-After in seconds");
    assert!((1..=600).contains(&retry_after), "{retry_after}");
    Round::Refused
}

/// One round: submit a large challenged form, complete the pre-built UI, come back with
/// the token, and stop there.
async fn park_one(gate: &Gate, memo: &str) -> Round {
    let submitted = gate
        .server
        .post("/withdraw")
        .add_header(USER_HEADER, "mallory")
        .add_header("accept", NAVIGATION_ACCEPT)
        .add_header("sec-fetch-mode", "navigate")
        .form(&[("amount", "5000"), ("memo", memo)])
        .await;
    match submitted.status_code().as_u16() {
        303 => {}
        429 => return refused(&submitted),
        other => return Round::Other(other, submitted.text()),
    }
    let ui = submitted.header("location").to_str().unwrap().to_owned();
    let back = complete_ui(gate, &ui).await;
    let returned = navigate(
        gate,
        Method::GET,
        &local_path(&gate.origin, &back),
        "mallory",
        None,
        None,
    )
    .await;
    match returned.status_code().as_u16() {
        303 => Round::Parked,
        // Another of mallory's rounds took the place this challenge's take freed.
        429 => refused(&returned),
        other => Round::Other(other, returned.text()),
    }
}

/// One attacker: parks resume records until refused with 429. A full store (503) does
/// not stop it: it halves its body and goes on, to fill what room is left. Returns how
/// many records it parked, how many 503s it got, and the round that stopped it.
async fn attack(gate: &Gate) -> (usize, usize, Round) {
    let mut memo_bytes = MEMO_BYTES;
    let (mut parked, mut full) = (0, 0);
    for _ in 0..MAX_ROUNDS {
        match park_one(gate, &"x".repeat(memo_bytes)).await {
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

/// Alice's browser challenge from its form's first submission to the handler's answer.
async fn alice_completes(gate: &Gate, ui: &str, amount: &str) {
    let back = complete_ui(gate, ui).await;
    let resumed = follow_back(gate, &back, "alice").await;
    assert_eq!(resumed.status_code(), 200, "{}", resumed.text());
    let ran: Value = resumed.json();
    assert_eq!(ran["user"], "alice");
    assert_eq!(ran["challenged"], true);
    assert_eq!(ran["body"], format!("amount={amount}"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_parking_resume_records_is_refused_and_another_user_completes() {
    let store = Arc::new(MemoryStore::builder().max_bytes(STORE_BYTES).build());
    let gate = setup()
        .relaxed_timeouts()
        .config({
            let store = store.clone();
            move |config| config.store(store)
        })
        .start()
        .await;
    // Alice is challenged first, and answers while mallory attacks.
    let first = browser_submit(&gate, "alice", &[("amount", "2500")]).await;
    // Four attackers at once, each as fast as it can.
    let attackers = async {
        let (a, b, c, d) = tokio::join!(attack(&gate), attack(&gate), attack(&gate), attack(&gate));
        [a, b, c, d]
    };
    let (attacks, ()) = tokio::join!(attackers, alice_completes(&gate, &first, "2500"));
    // With mallory's records parked, alice is challenged again and completes.
    let second = browser_submit(&gate, "alice", &[("amount", "3000")]).await;
    alice_completes(&gate, &second, "3000").await;
    assert_eq!(
        gate.runs(),
        2,
        "alice's two withdrawals, and nothing of mallory's"
    );

    // Mallory was refused with 429, within her bound, and stays refused.
    for (_, full, stopped) in &attacks {
        assert_eq!(*full, 0, "the store was full");
        if let Round::Other(status, body) = stopped {
            panic!("mallory got {status}, not 429: {body}");
        }
    }
    let parked: usize = attacks.iter().map(|(parked, _, _)| parked).sum();
    assert!(
        (1..=DEFAULT_PER_USER).contains(&parked),
        "mallory parked {parked} resume records"
    );
    // Every record mallory holds counts: nothing of hers, of any kind, is past her bound.
    assert!(store.len() <= DEFAULT_PER_USER, "{} records", store.len());
    assert!(matches!(park_one(&gate, "small").await, Round::Refused));
}

/// A store in which another request lands between the gate's take of a challenge and its
/// put of the resume record: on each take of a challenge it puts `interloper`'s record
/// (the same user's, or another's) into the room the take freed.
struct InterleavedStore {
    inner: MemoryStore,
    interloper: &'static str,
}

impl PendingChallengeStore for InterleavedStore {
    fn put<'a>(
        &'a self,
        key: &'a RecordKey,
        record: PendingChallenge,
        ttl: Duration,
    ) -> StoreFuture<'a, ()> {
        self.inner.put(key, record, ttl)
    }

    fn take<'a>(&'a self, key: &'a RecordKey) -> StoreFuture<'a, Option<PendingChallenge>> {
        Box::pin(async move {
            let taken = self.inner.take(key).await?;
            if let Some(record) = &taken
                && key.kind == RecordKind::Challenge
            {
                let other = PendingChallenge::challenge(
                    self.interloper,
                    record.action(),
                    record.method().clone(),
                    record.path_and_query(),
                );
                let other_key = RecordKey::new(RecordKind::Challenge, self.interloper, "between");
                self.inner
                    .put(&other_key, other, Duration::from_secs(600))
                    .await?;
            }
            Ok(taken)
        })
    }
}

/// A browser's challenge completed, and its way back refused before anything ran: the
/// status of the answer.
async fn return_refused(store: InterleavedStore) -> u16 {
    let store: Arc<dyn PendingChallengeStore> = Arc::new(store);
    let gate = setup()
        .config(move |config| config.store(store))
        .start()
        .await;
    let ui = browser_submit(&gate, "alice", &[("amount", "2500")]).await;
    let back = complete_ui(&gate, &ui).await;
    let returned = navigate(
        &gate,
        Method::GET,
        &local_path(&gate.origin, &back),
        "alice",
        None,
        None,
    )
    .await;
    let status = returned.status_code();
    assert!(
        status.is_client_error() || status.is_server_error(),
        "the resume was kept: {status}"
    );
    assert!(
        returned
            .header("content-type")
            .to_str()
            .unwrap()
            .starts_with("text/html"),
        "a page for the browser"
    );
    assert!(
        returned.maybe_header("retry-after").is_some(),
        "{}",
        returned.text()
    );
    assert!(cookie_set(&returned, "authsignal-resume").is_none());
    assert_eq!(gate.runs(), 0);
    status.as_u16()
}

/// A resume record counts against its user's bound: when another of the user's requests
/// took the place their challenge freed, the resume is refused with 429 for that user
/// (and nothing runs; they are challenged again when they retry).
#[tokio::test]
async fn a_resume_over_the_users_bound_is_429() {
    let store = InterleavedStore {
        inner: MemoryStore::builder().per_user(1).build(),
        interloper: "alice",
    };
    assert_eq!(return_refused(store).await, 429);
}

/// A resume record counts against the store's capacity: when another user took the room
/// the challenge freed, the resume fails closed with 503.
#[tokio::test]
async fn a_resume_refused_by_a_full_store_fails_closed() {
    let store = InterleavedStore {
        inner: MemoryStore::builder().capacity(1).build(),
        interloper: "bob",
    };
    assert_eq!(return_refused(store).await, 503);
}

async fn guarded(step_up: StepUp) -> String {
    format!("{} passed {}", step_up.user_id(), step_up.action())
}

/// The standalone validator's spent tokens count against the user's bound: a user whose
/// records fill it gets 429 with `Retry-After` for the next token, nothing runs, and
/// another user is not affected.
#[tokio::test]
async fn spent_tokens_count_against_the_users_bound() {
    let store = Arc::new(MemoryStore::builder().per_user(3).build());
    let gate = setup()
        .config(move |config| config.store(store))
        .start()
        .await;
    let app = Router::new()
        .route("/guarded", post(guarded))
        .layer(Extension(gate.config.validator("withdraw")));
    let server = TestServer::new(app);
    let validate = |user: &'static str, token: String| {
        server
            .post("/guarded")
            .add_header(USER_HEADER, user)
            .add_header("accept", "application/json")
            .add_header("x-authsignal-token", token)
    };
    let body = json!({ "amount": 5000 });
    // Two challenges pending at the gate, then a spent token: three records.
    let (_, first) = api_token(&gate, "/withdraw", "alice", &body).await;
    let (_, second) = api_token(&gate, "/withdraw", "alice", &body).await;
    let passed = validate("alice", first).await;
    assert_eq!(passed.status_code(), 200, "{}", passed.text());
    let refused = validate("alice", second).await;
    assert_eq!(refused.status_code(), 429, "{}", refused.text());
    assert_eq!(refused.json::<Value>()["code"], "too_many_challenges");
    assert!(refused.maybe_header("retry-after").is_some());

    let (_, bobs) = api_token(&gate, "/withdraw", "bob", &body).await;
    let bob = validate("bob", bobs).await;
    assert_eq!(bob.status_code(), 200, "{}", bob.text());
}
