//! The soak: two instances of an app, each a process of its own, sharing one Redis and
//! one Authsignal emulator, under `--connections` concurrent clients (256) for
//! `--seconds`, with `--fault-percent` (30 %) of the gate's Authsignal calls faulted,
//! then the checks that must hold after it:
//!
//! - no answer is a 500 (or any 5xx but 503, and no 503 lacks `Retry-After`), nothing
//!   panics (in the driver or an instance, and both instances are still running), every
//!   request is answered;
//! - the handlers ran exactly as often as the clients saw them run: `ALLOW`s plus first
//!   uses of tokens, counted by the clients, by the handlers (which also record each
//!   challenge's key in Redis, `SET NX`, to catch a second run of one) and by the gates'
//!   own metrics; no replay, concurrent second use, stolen token or altered retry ran one;
//! - memory is bounded: after the load, with no request in flight, each instance's heap
//!   (counted by its global allocator) and RSS are within [`checks::HEAP_BOUND_KIB`] and
//!   [`checks::RSS_BOUND_KIB`] of what they were after the warm-up;
//! - every Redis key the run wrote has a time to live of at most the gate's 600 s (and,
//!   with `--wait-expiry`, they are all gone once it has passed).
//!
//! `.ci/soak.sh [seconds]` starts `redis-server` and the `authsignal-emulator` program,
//! builds this and runs it as
//! `soak --redis URL --emulator API_URL --secret S --seconds N`; this process (the
//! driver: the clients and the checks) starts the two instances ([`instances`]). Exits
//! non-zero on any failed check; stops by itself, within `--seconds` plus a bounded grace.

#[path = "../support/heap.rs"]
mod heap;

mod app;
mod checks;
mod faults;
mod instance;
mod instances;
mod load;
mod options;
mod stats;
mod users;

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use checks::{MemoryOf, Report};
use instances::Instance;
use options::{Command, Options};

#[global_allocator]
static ALLOCATOR: heap::Counting = heap::Counting;

/// How long the clients may take to finish what they were doing once told to stop
/// (their requests time out well before).
const DRAIN: Duration = Duration::from_secs(60);
/// Past the run's own end, the process gives up and exits on its own.
const HARD_STOP_GRACE: Duration = Duration::from_secs(120);

fn main() -> ExitCode {
    let options = match Command::from_args() {
        Command::Drive(options) => options,
        Command::Instance(options) => return instance::main(options),
        Command::Nothing => {
            println!("soak: run by .ci/soak.sh [seconds] (or see benches/soak/options.rs)");
            return ExitCode::SUCCESS;
        }
    };
    stats::count_panics();
    let lifetime = options.duration + 2 * DRAIN + HARD_STOP_GRACE + options.expiry_wait();
    hard_stop_after(lifetime);
    let failures = runtime().block_on(run(options, lifetime));
    if failures == 0 {
        println!("soak: PASS");
        ExitCode::SUCCESS
    } else {
        println!("soak: FAIL ({failures} checks failed)");
        ExitCode::FAILURE
    }
}

/// The runtime of the driver and of each instance: two workers, as many as the cores.
fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

/// Stops the clients and waits until they have ended their scenarios (or [`DRAIN`] has
/// passed): how many had not.
async fn pause(clients: Vec<tokio::task::JoinHandle<()>>, stop: &AtomicBool) -> usize {
    stop.store(true, Ordering::Relaxed);
    let stopping = Instant::now();
    let unfinished = load::finish(clients, DRAIN).await;
    println!(
        "the clients ended their scenarios {:.1} s after the stop",
        stopping.elapsed().as_secs_f64()
    );
    unfinished
}

/// Ends the process if the run has not ended by `after`: a hung soak must not hold CI.
fn hard_stop_after(after: Duration) {
    std::thread::spawn(move || {
        std::thread::sleep(after);
        eprintln!("soak: still running after {after:?}: giving up");
        std::process::exit(3);
    });
}

/// Every instance's memory now, or the report of why it could not be read.
async fn memory_now(instances: &[Instance]) -> Vec<stats::Memory> {
    match checks::stats_of(instances).await {
        Ok(stats) => stats.iter().map(|stats| stats.memory).collect(),
        Err(err) => panic!("the instances' stats: {err}"),
    }
}

/// Runs the soak; returns how many checks failed.
async fn run(options: Options, lifetime: Duration) -> usize {
    let emulator = faults::Emulator::new(&options);
    let setting_up = Instant::now();
    let users = users::enroll(&options).await;
    println!(
        "{} users enrolled in {:.1} s",
        users.len(),
        setting_up.elapsed().as_secs_f64()
    );
    let mut instances = [
        Instance::start("A", &options, lifetime).await,
        Instance::start("B", &options, lifetime).await,
    ];
    let names = instances.each_ref().map(|instance| instance.name);
    println!(
        "instances A at {} and B at {} (max_connections {}), Redis {} (keys under {}), emulator {}",
        instances[0].url,
        instances[1].url,
        options.max_connections,
        options.redis_url,
        options.prefix,
        options.emulator_url
    );
    let at_start = memory_now(&instances).await;

    let faults_done = Arc::new(AtomicBool::new(false));
    let rotation = tokio::spawn(faults::rotate(
        emulator.clone(),
        options.fault_percent,
        faults_done.clone(),
    ));
    let tally = Arc::new(load::Tally::default());
    let urls = instances.each_ref().map(|instance| instance.url.clone());
    let mut load = load::Load::new(&options, urls, users, tally.clone());
    let started = Instant::now();

    // The warm-up, then a pause: memory is read with no request in flight, before the
    // load and after it, so that what differs is what the load left behind.
    let warming = Arc::new(AtomicBool::new(false));
    let clients = load.start(&warming);
    let (_, mut scrapes_failed) =
        checks::scrape_until(&instances, started + options.warm_up()).await;
    let mut unfinished = pause(clients, &warming).await;
    let before = memory_now(&instances).await;
    let requests_before = tally.requests();
    println!(
        "warmed up for {:?}, paused: {requests_before} requests; A: {}; B: {}",
        options.warm_up(),
        before[0],
        before[1]
    );
    let loading = Arc::new(AtomicBool::new(false));
    let clients = load.start(&loading);
    let (trend, failed) = checks::scrape_until(&instances, started + options.duration).await;
    scrapes_failed += failed;
    unfinished += pause(clients, &loading).await;
    let after = memory_now(&instances).await;
    let requests_after = tally.requests();
    let elapsed = started.elapsed();
    println!("after the load, paused: A: {}; B: {}", after[0], after[1]);
    faults_done.store(true, Ordering::Relaxed);
    let (rotations, arming_failures) = rotation.await.unwrap_or((0, 1));
    emulator.clear_faults().await;

    let mut report = Report::default();
    println!();
    tally.print(elapsed);
    let stats = checks::stats_of(&instances)
        .await
        .expect("the instances' stats");
    let gate = checks::step_up_counts(&instances)
        .await
        .expect("the instances' metrics");
    report.check(
        "the faults were armed all along",
        arming_failures == 0 && (rotations > 0 || options.fault_percent == 0),
        format!("{arming_failures} failed to arm, {rotations} armed"),
    );
    report.check(
        "every client finished within the drain",
        unfinished == 0,
        format!("{unfinished} still running"),
    );
    report.check(
        "the instances answered every scrape of their metrics and stats",
        scrapes_failed == 0,
        format!("{scrapes_failed} scrapes failed"),
    );
    tally.check(&mut report);
    let runs: Vec<stats::Runs> = stats.iter().map(|stats| stats.runs).collect();
    checks::runs(&mut report, &names, &runs, &tally, &gate);
    let panics: Vec<u64> = stats.iter().map(|stats| stats.panics).collect();
    let running = instances.each_mut().map(Instance::running);
    report.check(
        "nothing panicked, and both instances still run",
        stats::panics() == 0 && panics.iter().all(|n| *n == 0) && running.iter().all(|r| *r),
        format!(
            "{} panics in the driver, {panics:?} in the instances, running: {running:?}",
            stats::panics()
        ),
    );
    report.check(
        "the emulator still answers",
        emulator.alive().await,
        "its control route did not answer".into(),
    );
    for (at, name) in names.iter().enumerate() {
        let of = MemoryOf {
            name,
            start: at_start[at],
            before: before[at],
            after: after[at],
            trend: trend.iter().map(|memory| memory[at]).collect(),
        };
        checks::memory(&mut report, &of, requests_after - requests_before);
    }
    checks::redis_keys(&mut report, &options).await;
    let mut stopped = Vec::new();
    for instance in instances {
        stopped.push(instance.stop().await);
    }
    report.check(
        "both instances ended when told to",
        stopped.iter().all(|ended| *ended),
        format!("{stopped:?}"),
    );
    report.failures()
}
