//! The app one instance serves: its own Authsignal client and `RedisStore` connection,
//! the same Redis and emulator as the other instance.
//!
//! | route | gate | Authsignal's answer (the emulator's configuration) |
//! |---|---|---|
//! | `POST /transfer` | `transfer` | `ALLOW` |
//! | `POST /withdraw` | `withdraw` | `CHALLENGE_REQUIRED` |
//! | `POST /close-account` | `closeAccount` | `BLOCK` |
//!
//! The user is the `x-user` header, as a gateway in front of the app would set it. The
//! handler counts its runs by outcome, and records each challenge's idempotency key in
//! Redis (`SET NX`, with the gate's 600 s time to live): a key already there is a second
//! run of one challenge, on whichever instance.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use authsignal::Authsignal;
use axum::Router;
use axum::extract::State;
use axum::routing::post;
use axum_authsignal::store::RedisStore;
use axum_authsignal::{StepUp, StepUpConfig, StepUpOutcome};
use redis::aio::ConnectionManager;

use crate::options::{InstanceOptions, LONGEST_TTL};
use crate::stats;

/// One attempt to Authsignal may take this long: the faults' delays (1.5 s) outlast it,
/// so that a delayed call is retried rather than waited for.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(1);

/// How long the handler waits for Redis to record a run.
const LEDGER_TIMEOUT: Duration = Duration::from_secs(10);

/// The handler's runs, counted as they happen.
#[derive(Debug, Default)]
pub struct Runs {
    allowed: AtomicU64,
    verified: AtomicU64,
    forbidden: AtomicU64,
    repeated: AtomicU64,
    unrecorded: AtomicU64,
}

impl Runs {
    pub fn now(&self) -> stats::Runs {
        stats::Runs {
            allowed: get(&self.allowed),
            verified: get(&self.verified),
            forbidden: get(&self.forbidden),
            repeated: get(&self.repeated),
            unrecorded: get(&self.unrecorded),
        }
    }
}

#[derive(Clone)]
struct Handler {
    runs: Arc<Runs>,
    ledger: ConnectionManager,
    prefix: String,
}

/// The app's routes, and the counts of their handler's runs.
pub async fn app(options: &InstanceOptions) -> (Router, Arc<Runs>) {
    let mut client = Authsignal::builder()
        .secret_key(&options.secret)
        .base_url(&options.emulator_url)
        .attempt_timeout(ATTEMPT_TIMEOUT);
    if options.max_connections > 0 {
        client = client.max_connections(options.max_connections);
    }
    let client = client.build().expect("a client of the emulator");
    let store = RedisStore::builder(options.redis_url.as_str())
        .prefix(&options.prefix)
        .build()
        .await
        .expect("the store connects to Redis");
    let step_up = StepUpConfig::builder(client)
        .store(Arc::new(store))
        .user_id(|parts| {
            let user = parts.headers.get("x-user")?.to_str().ok()?;
            Some(user.to_owned())
        })
        .build();
    // Generous: a busy machine must not make a run go unrecorded.
    let patient = redis::aio::ConnectionManagerConfig::new()
        .set_response_timeout(Some(LEDGER_TIMEOUT))
        .set_connection_timeout(Some(LEDGER_TIMEOUT));
    let ledger = redis::Client::open(options.redis_url.as_str())
        .expect("a Redis URL")
        .get_connection_manager_with_config(patient)
        .await
        .expect("a connection to Redis");
    let runs = Arc::new(Runs::default());
    let handler = Handler {
        runs: runs.clone(),
        ledger,
        prefix: options.prefix.clone(),
    };
    let app = Router::new()
        .route("/transfer", post(run).layer(step_up.gate("transfer")))
        .route("/withdraw", post(run).layer(step_up.gate("withdraw")))
        .route(
            "/close-account",
            post(run).layer(step_up.gate("closeAccount")),
        )
        .with_state(handler);
    (app, runs)
}

async fn run(State(handler): State<Handler>, step_up: StepUp) -> &'static str {
    let runs = &handler.runs;
    match step_up.outcome() {
        _ if step_up.action() == "closeAccount" => bump(&runs.forbidden),
        StepUpOutcome::Allowed(_) => bump(&runs.allowed),
        StepUpOutcome::Verified(_) => {
            bump(&runs.verified);
            let key = step_up.idempotency_key().unwrap_or_default();
            let first: Result<Option<String>, _> = redis::cmd("SET")
                .arg(format!("{}ran:{key}", handler.prefix))
                .arg(step_up.user_id())
                .arg("NX")
                .arg("EX")
                .arg(LONGEST_TTL.as_secs())
                .query_async(&mut handler.ledger.clone())
                .await;
            match first {
                Ok(Some(_)) => {}
                Ok(None) => bump(&runs.repeated),
                Err(err) => {
                    if runs.unrecorded.fetch_add(1, Ordering::Relaxed) == 0 {
                        eprintln!("soak: a run could not be recorded in Redis: {err}");
                    }
                }
            }
        }
        _ => bump(&runs.forbidden),
    }
    "done"
}

fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

fn get(counter: &AtomicU64) -> u64 {
    counter.load(Ordering::Relaxed)
}
