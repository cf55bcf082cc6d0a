//! The load: `--connections` clients, each a loop of scenarios against instances A and B
//! picked at random, counting what they were answered.
//!
//! | share | scenario | the answers allowed |
//! |---:|---|---|
//! | 45 % | `POST /transfer` (`ALLOW`) | 200, 503 |
//! | 35 % | `POST /withdraw` (challenged): 401 with a token, the code typed on the client API, the retry with the token on either instance (on both at once one time in five), then a replay on the other | 401 / 200, 403, 503 / 403, 503 |
//! | 10 % | the challenge abandoned after leg 1 (its record waits in Redis until it expires) | 401, 429, 503 |
//! | 10 % | misuse: a `BLOCK`ed action, a token presented by another user, a retry with another body, a garbage token | never 200 |
//!
//! Every answer is also checked against the rules of the whole run: no 5xx but 503, and
//! every 503 with `Retry-After`. A 503 of the retry is retried (it ran nothing): a few
//! times, a moment apart.

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::task::JoinHandle;

use crate::checks::Report;
use crate::options::Options;
use crate::users::{User, client_api};

/// How long a client waits for one answer before it counts as none.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(30);
/// How often a retry answered 503 is sent again.
const RETRIES_AFTER_503: usize = 4;
/// How many failures are kept to print.
const KEPT_NOTES: usize = 12;

/// What the clients saw, counted as they go.
#[derive(Default)]
pub struct Tally {
    requests: AtomicU64,
    /// Answers by status (100 to 599).
    statuses: Statuses,
    no_answer: AtomicU64,
    server_errors: AtomicU64,
    unavailable_without_retry_after: AtomicU64,
    unexpected: AtomicU64,
    allowed: AtomicU64,
    challenged: AtomicU64,
    abandoned: AtomicU64,
    first_uses: AtomicU64,
    first_uses_elsewhere: AtomicU64,
    tokens_unused: AtomicU64,
    races: AtomicU64,
    second_uses_accepted: AtomicU64,
    replays: AtomicU64,
    replays_accepted: AtomicU64,
    misuses: AtomicU64,
    misuses_accepted: AtomicU64,
    verifications_failed: AtomicU64,
    notes: Mutex<Vec<String>>,
}

struct Statuses([AtomicU64; 500]);

impl Default for Statuses {
    fn default() -> Self {
        Self(std::array::from_fn(|_| AtomicU64::new(0)))
    }
}

fn add(counter: &AtomicU64, n: u64) {
    counter.fetch_add(n, Ordering::Relaxed);
}

fn get(counter: &AtomicU64) -> u64 {
    counter.load(Ordering::Relaxed)
}

impl Tally {
    pub fn requests(&self) -> u64 {
        get(&self.requests)
    }

    /// The handler runs the clients saw: `ALLOW`s answered 200, and tokens whose first
    /// use was (their only 200, or the check below fails).
    pub fn runs_seen(&self) -> u64 {
        get(&self.allowed) + get(&self.first_uses)
    }

    /// Every 200 of a request that must not run the handler.
    pub fn runs_forbidden(&self) -> u64 {
        get(&self.second_uses_accepted) + get(&self.replays_accepted) + get(&self.misuses_accepted)
    }

    fn note(&self, note: String) {
        let mut notes = self
            .notes
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if notes.len() < KEPT_NOTES {
            notes.push(note);
        }
    }

    pub fn print(&self, elapsed: Duration) {
        let requests = self.requests();
        println!(
            "clients: {requests} requests in {:.1} s ({:.0}/s)",
            elapsed.as_secs_f64(),
            requests as f64 / elapsed.as_secs_f64()
        );
        let statuses: Vec<String> = (100..600)
            .filter_map(|status| {
                let count = get(&self.statuses.0[status - 100]);
                (count > 0).then(|| format!("{status}: {count}"))
            })
            .collect();
        println!("    answers by status: {}", statuses.join(", "));
        println!(
            "    ALLOWs run: {}; challenges: {} (abandoned {}); first token uses: {} ({} on the other instance); tokens left unused after 503s or a refusal: {}",
            get(&self.allowed),
            get(&self.challenged),
            get(&self.abandoned),
            get(&self.first_uses),
            get(&self.first_uses_elsewhere),
            get(&self.tokens_unused)
        );
        println!(
            "    concurrent double uses: {} (second accepted: {}); replays: {} (accepted: {}); misuses: {} (accepted: {})",
            get(&self.races),
            get(&self.second_uses_accepted),
            get(&self.replays),
            get(&self.replays_accepted),
            get(&self.misuses),
            get(&self.misuses_accepted)
        );
        println!(
            "    no answer: {}; 5xx but 503: {}; 503 without Retry-After: {}; unexpected answers: {}; client API verifications failed: {}",
            get(&self.no_answer),
            get(&self.server_errors),
            get(&self.unavailable_without_retry_after),
            get(&self.unexpected),
            get(&self.verifications_failed)
        );
        for note in self
            .notes
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .iter()
        {
            println!("    note: {note}");
        }
    }

    pub fn check(&self, report: &mut Report) {
        let count = |counter: &AtomicU64, what: &str| {
            (get(counter) == 0, format!("{} {what}", get(counter)))
        };
        let (ok, why) = count(&self.server_errors, "answers 500 or another 5xx but 503");
        report.check("no 500 (nor any 5xx but 503)", ok, why);
        let (ok, why) = count(&self.unavailable_without_retry_after, "503s without it");
        report.check("every 503 has Retry-After", ok, why);
        let (ok, why) = count(&self.no_answer, "requests unanswered");
        report.check("every request was answered", ok, why);
        let (ok, why) = count(&self.unexpected, "answers no request of its kind may get");
        report.check("every answer is one its request may get", ok, why);
        report.check(
            "no replay, second use, stolen token or altered retry ran the handler",
            self.runs_forbidden() == 0,
            format!("{} such requests answered 200", self.runs_forbidden()),
        );
        let (ok, why) = count(
            &self.verifications_failed,
            "client API verifications failed (never faulted)",
        );
        report.check("every challenge could be completed", ok, why);
        report.check(
            "the load did every scenario",
            get(&self.allowed) > 0
                && get(&self.first_uses) > 0
                && get(&self.first_uses_elsewhere) > 0
                && get(&self.races) > 0
                && get(&self.replays) > 0
                && get(&self.misuses) > 0
                && get(&self.abandoned) > 0,
            "a scenario never completed: the run proves nothing of it".into(),
        );
    }
}

/// An answer: its status and body.
struct Answer {
    status: u16,
    body: bytes::Bytes,
}

impl Answer {
    fn ok(&self) -> bool {
        self.status == 200
    }
}

/// What a request is, for the answers it may get.
#[derive(Debug, Clone, Copy)]
enum Kind {
    Allowed,
    Challenge,
    Retry,
    Replay,
    Misuse,
}

impl Kind {
    fn allows(self, status: u16) -> bool {
        match self {
            Kind::Allowed => matches!(status, 200 | 503),
            Kind::Challenge => matches!(status, 401 | 429 | 503),
            Kind::Retry => matches!(status, 200 | 403 | 503),
            // A 200 is counted apart: it is the failure these exist to catch.
            Kind::Replay => matches!(status, 200 | 403 | 503),
            Kind::Misuse => matches!(status, 200 | 400 | 403 | 503),
        }
    }
}

/// One client's means: the HTTP client, where the instances and the emulator are, its
/// two users, and its own dice.
struct Client {
    http: reqwest::Client,
    instances: [String; 2],
    emulator: String,
    users: Arc<Vec<User>>,
    mine: [usize; 2],
    tally: Arc<Tally>,
    dice: fastrand::Rng,
}

/// The clients' means: an HTTP client each, the instances, the emulator and the users.
///
/// Each client has a connection pool of its own, kept across a pause of the load, with
/// at most two idle connections to each host (one, and one more for the concurrent
/// retry): an instance then serves about as many connections as there are clients
/// from the warm-up on, so that memory read after the warm-up and after the load
/// differs by what the load left behind, not by a pool that grew with a burst. (One pool
/// shared by every client keeps as many idle connections as were ever in flight at
/// once, and each burst of slow answers adds some.)
pub struct Load {
    http: Vec<reqwest::Client>,
    instances: [String; 2],
    emulator: String,
    users: Arc<Vec<User>>,
    connections: usize,
    tally: Arc<Tally>,
    /// Each start's clients roll other dice.
    starts: u64,
}

impl Load {
    pub fn new(
        options: &Options,
        instances: [String; 2],
        users: Vec<User>,
        tally: Arc<Tally>,
    ) -> Self {
        Self {
            http: (0..options.connections)
                .map(|_| {
                    reqwest::Client::builder()
                        .timeout(ANSWER_TIMEOUT)
                        .pool_max_idle_per_host(2)
                        .build()
                        .expect("a client")
                })
                .collect(),
            instances,
            emulator: options.emulator_url.clone(),
            users: Arc::new(users),
            connections: options.connections,
            tally,
            starts: 0,
        }
    }

    /// Starts the clients; they run until `stop`.
    pub fn start(&mut self, stop: &Arc<AtomicBool>) -> Vec<JoinHandle<()>> {
        self.starts += 1;
        (0..self.connections)
            .map(|n| {
                let mut client = Client {
                    http: self.http[n].clone(),
                    instances: self.instances.clone(),
                    emulator: self.emulator.clone(),
                    users: self.users.clone(),
                    mine: [2 * n, 2 * n + 1],
                    tally: self.tally.clone(),
                    dice: fastrand::Rng::with_seed(self.starts << 32 | n as u64),
                };
                let stop = stop.clone();
                tokio::spawn(async move {
                    while !stop.load(Ordering::Relaxed) {
                        client.scenario().await;
                    }
                })
            })
            .collect()
    }
}

/// Waits for the clients to end their scenarios, at most `drain`; returns how many had
/// not (they are aborted).
pub async fn finish(clients: Vec<JoinHandle<()>>, drain: Duration) -> usize {
    let deadline = tokio::time::Instant::now() + drain;
    let mut unfinished = 0;
    for mut client in clients {
        if tokio::time::timeout_at(deadline, &mut client)
            .await
            .is_err()
        {
            client.abort();
            unfinished += 1;
        }
    }
    unfinished
}

impl Client {
    async fn scenario(&mut self) {
        let roll = self.dice.u8(0..100);
        let user = self.mine[self.dice.usize(0..2)];
        let at = self.dice.usize(0..2);
        match roll {
            0..45 => {
                let body = format!(r#"{{"amount":{}}}"#, self.dice.u32(1..1000));
                if let Some(answer) = self
                    .send(Kind::Allowed, at, "/transfer", user, None, &body)
                    .await
                    && answer.ok()
                {
                    add(&self.tally.allowed, 1);
                }
            }
            45..80 => self.challenge_answered(user, at).await,
            80..90 => {
                let body = self.withdrawal();
                if self.challenge(user, at, &body).await.is_some() {
                    add(&self.tally.abandoned, 1);
                }
            }
            _ => self.misuse(user, at).await,
        }
    }

    fn withdrawal(&mut self) -> String {
        format!(
            r#"{{"amount":{},"payee":"acme"}}"#,
            self.dice.u32(1..100_000)
        )
    }

    /// Leg 1, the code, leg 2 (on both instances at once one time in five), a replay.
    async fn challenge_answered(&mut self, user: usize, at: usize) {
        let body = self.withdrawal();
        let Some(token) = self.verified_token(user, at, &body).await else {
            return;
        };
        let mut answered_at = if self.dice.bool() { 1 - at } else { at };
        let mut oks = 0;
        if self.dice.u8(0..5) == 0 {
            add(&self.tally.races, 1);
            let (first, second) = tokio::join!(
                self.send(Kind::Retry, 0, "/withdraw", user, Some(&token), &body),
                self.send(Kind::Retry, 1, "/withdraw", user, Some(&token), &body),
            );
            for (instance, answer) in [first, second].into_iter().enumerate() {
                if answer.is_some_and(|answer| answer.ok()) {
                    oks += 1;
                    answered_at = instance;
                }
            }
        }
        if oks == 0 {
            oks = self.retry(answered_at, user, &token, &body).await;
        }
        self.count_uses(oks, at != answered_at);
        if oks > 0 {
            add(&self.tally.replays, 1);
            let replayed = self
                .send(
                    Kind::Replay,
                    1 - answered_at,
                    "/withdraw",
                    user,
                    Some(&token),
                    &body,
                )
                .await;
            if replayed.is_some_and(|answer| answer.ok()) {
                add(&self.tally.replays_accepted, 1);
                self.tally.note(format!(
                    "a replay of {}'s token ran the handler",
                    self.users[user].id
                ));
            }
        }
    }

    /// The retry with the token, sent again after a 503 (which ran nothing): how many
    /// times it was answered 200 (0 or 1).
    async fn retry(&mut self, at: usize, user: usize, token: &str, body: &str) -> u64 {
        for _ in 0..RETRIES_AFTER_503 {
            match self
                .send(Kind::Retry, at, "/withdraw", user, Some(token), body)
                .await
            {
                Some(answer) if answer.ok() => return 1,
                Some(answer) if answer.status == 503 => {
                    tokio::time::sleep(Duration::from_millis(self.dice.u64(50..250))).await;
                }
                _ => return 0,
            }
        }
        0
    }

    fn count_uses(&self, oks: u64, elsewhere: bool) {
        match oks {
            0 => add(&self.tally.tokens_unused, 1),
            _ => {
                add(&self.tally.first_uses, 1);
                if elsewhere {
                    add(&self.tally.first_uses_elsewhere, 1);
                }
                if oks > 1 {
                    add(&self.tally.second_uses_accepted, oks - 1);
                    self.tally
                        .note(format!("one token ran the handler {oks} times"));
                }
            }
        }
    }

    /// Misuse: none of these may run a handler.
    async fn misuse(&mut self, user: usize, at: usize) {
        add(&self.tally.misuses, 1);
        let other_user = self.mine[0] + self.mine[1] - user;
        let body = self.withdrawal();
        let accepted = match self.dice.u8(0..4) {
            0 => self
                .send(Kind::Misuse, at, "/close-account", user, None, "{}")
                .await
                .is_some_and(|answer| answer.ok()),
            1 => {
                let Some(token) = self.verified_token(user, at, &body).await else {
                    return;
                };
                let stolen = self
                    .send(
                        Kind::Misuse,
                        1 - at,
                        "/withdraw",
                        other_user,
                        Some(&token),
                        &body,
                    )
                    .await
                    .is_some_and(|answer| answer.ok());
                // The owner's own retry still works: the thief's attempt took nothing.
                let oks = self.retry(at, user, &token, &body).await;
                self.count_uses(oks, false);
                stolen
            }
            2 => {
                let Some(token) = self.verified_token(user, at, &body).await else {
                    return;
                };
                let altered = body.replace("acme", "mallory");
                self.send(
                    Kind::Misuse,
                    1 - at,
                    "/withdraw",
                    user,
                    Some(&token),
                    &altered,
                )
                .await
                .is_some_and(|answer| answer.ok())
            }
            _ => {
                let garbage = format!("eyJ{}", self.dice.u64(..));
                self.send(Kind::Misuse, at, "/withdraw", user, Some(&garbage), &body)
                    .await
                    .is_some_and(|answer| answer.ok())
            }
        };
        if accepted {
            add(&self.tally.misuses_accepted, 1);
            self.tally.note("a misuse ran the handler".into());
        }
    }

    /// Leg 1 and the code typed: the token to retry with, if the gate challenged.
    async fn verified_token(&self, user: usize, at: usize, body: &str) -> Option<String> {
        let track_token = self.challenge(user, at, body).await?;
        let code = json!({ "verificationCode": self.users[user].code() });
        let verified = client_api(
            &self.http,
            &self.emulator,
            "verify/totp",
            &track_token,
            Some(code),
        )
        .await;
        match verified {
            Ok(answer) if answer["isVerified"] == true => {
                answer["accessToken"].as_str().map(str::to_owned)
            }
            other => {
                add(&self.tally.verifications_failed, 1);
                self.tally.note(format!("a verification failed: {other:?}"));
                None
            }
        }
    }

    /// Leg 1 of a withdrawal: the track token of the 401, if the gate challenged.
    async fn challenge(&self, user: usize, at: usize, body: &str) -> Option<String> {
        let answer = self
            .send(Kind::Challenge, at, "/withdraw", user, None, body)
            .await?;
        if answer.status != 401 {
            return None;
        }
        add(&self.tally.challenged, 1);
        let problem: Value = serde_json::from_slice(&answer.body).ok()?;
        problem["token"].as_str().map(str::to_owned)
    }

    /// One request to instance `at` as `user`; its answer counted and checked.
    async fn send(
        &self,
        kind: Kind,
        at: usize,
        path: &str,
        user: usize,
        token: Option<&str>,
        body: &str,
    ) -> Option<Answer> {
        add(&self.tally.requests, 1);
        let mut request = self
            .http
            .post(format!("{}{path}", self.instances[at]))
            .header("x-user", &self.users[user].id)
            .header("content-type", "application/json")
            .header("accept", "application/json")
            .body(body.to_owned());
        if let Some(token) = token {
            request = request.header("x-authsignal-token", token);
        }
        let answer = match request.send().await {
            Ok(response) => {
                let status = response.status().as_u16();
                let retry_after = response.headers().contains_key("retry-after");
                match response.bytes().await {
                    Ok(body) => Some((status, retry_after, body)),
                    Err(err) => {
                        self.tally
                            .note(format!("{kind:?} {path}: the body was cut: {err}"));
                        None
                    }
                }
            }
            Err(err) => {
                self.tally
                    .note(format!("{kind:?} {path}: no answer: {err}"));
                None
            }
        };
        let Some((status, retry_after, body)) = answer else {
            add(&self.tally.no_answer, 1);
            return None;
        };
        if let Some(counter) = self
            .tally
            .statuses
            .0
            .get(usize::from(status).wrapping_sub(100))
        {
            add(counter, 1);
        }
        if (500..600).contains(&status) && status != 503 {
            add(&self.tally.server_errors, 1);
            self.tally.note(format!(
                "{kind:?} {path}: {status}: {}",
                String::from_utf8_lossy(&body)
            ));
        }
        if status == 503 && !retry_after {
            add(&self.tally.unavailable_without_retry_after, 1);
        }
        if !kind.allows(status) {
            add(&self.tally.unexpected, 1);
            self.tally.note(format!(
                "{kind:?} {path}: unexpected {status}: {}",
                String::from_utf8_lossy(&body)
            ));
        }
        Some(Answer { status, body })
    }
}
