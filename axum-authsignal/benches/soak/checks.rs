//! The soak's checks, and what they read: the instances' handler runs, metrics, memory
//! and panics, the keys left in Redis.

use std::collections::BTreeMap;
use std::time::Duration;

use tokio::time::Instant;

use crate::instances::Instance;
use crate::load::Tally;
use crate::options::{LONGEST_TTL, Options};
use crate::stats::{Memory, Runs, Stats};

/// How much an instance's heap (the bytes allocated, counted by its global allocator) may
/// grow from the pause after the warm-up to the pause after the load, both with no
/// request in flight. Pending challenges live in Redis, so what an instance holds is
/// sized by the clients' concurrency: the connections (about 50 KiB each with their
/// buffers) of its server, one or two per client, and of its Authsignal client, at most
/// `--max-connections` (64) in use and as many idle, which the faults' resets and
/// timeouts close and the next calls open again, so that a pause finds between a few and
/// 64 of them. Measured: −2.5 to +3.4 MiB in 60 s runs (10 000 to 20 000 requests an
/// instance). A leak of 1 KiB a handler run breaks it in a 60 s run.
pub const HEAP_BOUND_KIB: u64 = 8 * 1024;
/// How much an instance's RSS may grow over the same time: the heap's growth and the
/// allocator's own settling (measured: +1.3 to +2.7 MiB in 60 s runs).
pub const RSS_BOUND_KIB: u64 = 16 * 1024;

/// The outcome of every check, printed as it is made.
#[derive(Debug, Default)]
pub struct Report {
    failures: usize,
}

impl Report {
    pub fn check(&mut self, what: &str, ok: bool, why: String) {
        if ok {
            println!("[ok]   {what}");
        } else {
            self.failures += 1;
            println!("[FAIL] {what}: {why}");
        }
    }

    pub fn failures(&self) -> usize {
        self.failures
    }
}

/// The instances' stats at one moment, in the order of the instances.
pub async fn stats_of(instances: &[Instance]) -> Result<Vec<Stats>, String> {
    let mut all = Vec::with_capacity(instances.len());
    for instance in instances {
        all.push(instance.stats().await?);
    }
    Ok(all)
}

/// Scrapes every instance's metrics every second until `deadline`, as Prometheus would;
/// returns their memory at each scrape, and how many scrapes failed.
pub async fn scrape_until(
    instances: &[Instance],
    deadline: std::time::Instant,
) -> (Vec<Vec<Memory>>, usize) {
    let deadline = Instant::from_std(deadline);
    let mut trend = Vec::new();
    let mut failed = 0;
    while Instant::now() < deadline {
        tokio::time::sleep_until(deadline.min(Instant::now() + Duration::from_secs(1))).await;
        for instance in instances {
            failed += usize::from(instance.metrics().await.is_err());
        }
        match stats_of(instances).await {
            Ok(stats) => trend.push(stats.iter().map(|stats| stats.memory).collect()),
            Err(_) => failed += 1,
        }
    }
    (trend, failed)
}

/// `authsignal_step_up_total` by action and outcome, summed over the instances.
pub async fn step_up_counts(instances: &[Instance]) -> Result<GateCounts, String> {
    let mut counts = GateCounts::default();
    for instance in instances {
        counts.add(&instance.metrics().await?);
    }
    Ok(counts)
}

/// The gate's outcomes, by action and outcome.
#[derive(Default)]
pub struct GateCounts(BTreeMap<(String, String), u64>);

impl GateCounts {
    pub fn get(&self, action: &str, outcome: &str) -> u64 {
        self.0
            .get(&(action.to_owned(), outcome.to_owned()))
            .copied()
            .unwrap_or(0)
    }

    /// Adds the counts of one scrape (Prometheus' text format).
    fn add(&mut self, text: &str) {
        for line in text.lines() {
            let Some(rest) = line.strip_prefix("authsignal_step_up_total{") else {
                continue;
            };
            let Some((labels, value)) = rest.split_once("} ") else {
                continue;
            };
            let label = |name: &str| {
                labels
                    .split(',')
                    .find_map(|pair| pair.strip_prefix(&format!("{name}=\"")))
                    .map(|value| value.trim_end_matches('"').to_owned())
                    .unwrap_or_default()
            };
            let value: f64 = value.trim().parse().unwrap_or(0.0);
            *self
                .0
                .entry((label("action"), label("outcome")))
                .or_default() += value as u64;
        }
    }
}

impl std::fmt::Display for GateCounts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let parts: Vec<String> = self
            .0
            .iter()
            .map(|((action, outcome), count)| format!("{action}/{outcome} {count}"))
            .collect();
        f.write_str(&parts.join(", "))
    }
}

/// The handlers' runs on every instance (`each`, in the order of `names`) against what the
/// clients saw and what the gates counted; none a second or forbidden run.
pub fn runs(report: &mut Report, names: &[&str], each: &[Runs], tally: &Tally, gate: &GateCounts) {
    let total = each
        .iter()
        .copied()
        .fold(Runs::default(), |sum, runs| sum + runs);
    let by_instance: Vec<String> = names
        .iter()
        .zip(each)
        .map(|(name, runs)| format!("{name} {}", runs.total()))
        .collect();
    println!(
        "handlers: {} runs ({}): {} ALLOWs, {} verified; second runs of a challenge: {}, forbidden runs: {}, runs not recorded in Redis: {}",
        total.total(),
        by_instance.join(", "),
        total.allowed,
        total.verified,
        total.repeated,
        total.forbidden,
        total.unrecorded
    );
    println!("gate metrics (authsignal_step_up_total): {gate}");
    println!();
    report.check(
        "handler runs == ALLOWs + first token uses (the handlers' count = the clients')",
        total.total() == tally.runs_seen(),
        format!(
            "handlers {} != clients {}",
            total.total(),
            tally.runs_seen()
        ),
    );
    let gate_runs = gate.get("transfer", "allowed") + gate.get("withdraw", "verified");
    report.check(
        "handler runs == the gate's own allowed + verified counts",
        total.total() == gate_runs,
        format!("handlers {} != gate {gate_runs}", total.total()),
    );
    report.check(
        "no challenge ran its handler twice (checked in Redis, across instances)",
        total.repeated == 0 && total.unrecorded == 0,
        format!(
            "{} second runs, {} unrecorded",
            total.repeated, total.unrecorded
        ),
    );
    report.check(
        "no BLOCKed or failed-open request ran the handler",
        total.forbidden == 0 && gate.get("closeAccount", "blocked") > 0,
        format!(
            "{} forbidden runs, {} blocked",
            total.forbidden,
            gate.get("closeAccount", "blocked")
        ),
    );
    report.check(
        "both instances ran handlers",
        each.iter().all(|runs| runs.total() > 0),
        by_instance.join(", "),
    );
}

/// One instance's memory: at its start, after the warm-up and after the load (both
/// paused, no request in flight); the growth between the last two is bounded.
pub struct MemoryOf<'a> {
    pub name: &'a str,
    pub start: Memory,
    pub before: Memory,
    pub after: Memory,
    /// At each scrape of the load.
    pub trend: Vec<Memory>,
}

pub fn memory(report: &mut Report, of: &MemoryOf<'_>, requests: u64) {
    let every_5_s: Vec<String> = of
        .trend
        .iter()
        .step_by(5)
        .map(|memory| format!("{}/{}", memory.rss_kib / 1024, memory.heap_kib / 1024))
        .collect();
    println!(
        "memory of {}: at its start {}; RSS/heap every 5 s of the load, MiB: {}",
        of.name,
        of.start,
        every_5_s.join(" ")
    );
    for (what, before, after, bound) in [
        ("RSS", of.before.rss_kib, of.after.rss_kib, RSS_BOUND_KIB),
        (
            "heap",
            of.before.heap_kib,
            of.after.heap_kib,
            HEAP_BOUND_KIB,
        ),
    ] {
        let growth = after.saturating_sub(before);
        println!(
            "memory of {}: {what} {before} KiB after the warm-up, {after} KiB after the load: {:+} KiB over {requests} requests to both ({:.0} bytes a request); bound {bound} KiB",
            of.name,
            after as i64 - before as i64,
            1024.0 * growth as f64 / requests.max(1) as f64
        );
        report.check(
            &format!(
                "memory growth of {} bounded ({what} after the load - after the warm-up)",
                of.name
            ),
            before > 0 && growth <= bound,
            format!("grew {growth} KiB, more than {bound} KiB"),
        );
    }
}

/// What a key of the run is, from its name.
fn kind_of(key: &str) -> &'static str {
    if key.contains(":challenge:") {
        "challenge"
    } else if key.ends_with(":records") {
        "user index"
    } else if key.contains(":resume:") {
        "resume"
    } else if key.contains(":spent:") {
        "spent"
    } else if key.contains(":ran:") {
        "handler ledger"
    } else {
        "other"
    }
}

/// Every key of the run (under its prefix) with its time to live in ms (-1: none).
async fn keys_and_ttls(
    connection: &mut redis::aio::MultiplexedConnection,
    prefix: &str,
) -> Vec<(String, i64)> {
    let mut keys: Vec<String> = Vec::new();
    let mut cursor: u64 = 0;
    loop {
        let (next, batch): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(format!("{prefix}*"))
            .arg("COUNT")
            .arg(1000)
            .query_async(connection)
            .await
            .expect("SCAN");
        keys.extend(batch);
        cursor = next;
        if cursor == 0 {
            break;
        }
    }
    keys.sort();
    keys.dedup();
    let mut ttls = Vec::with_capacity(keys.len());
    for chunk in keys.chunks(1000) {
        let mut pipe = redis::pipe();
        for key in chunk {
            pipe.cmd("PTTL").arg(key);
        }
        let batch: Vec<i64> = pipe.query_async(connection).await.expect("PTTL");
        ttls.extend(batch);
    }
    keys.into_iter()
        .zip(ttls)
        // -2: gone between SCAN and PTTL, expired as it should.
        .filter(|(_, ttl)| *ttl != -2)
        .collect()
}

pub async fn redis_keys(report: &mut Report, options: &Options) {
    let client = redis::Client::open(options.redis_url.as_str()).expect("a Redis URL");
    let mut connection = client
        .get_multiplexed_async_connection()
        .await
        .expect("a connection to Redis");
    let keys = keys_and_ttls(&mut connection, &options.prefix).await;
    let mut by_kind: BTreeMap<&str, usize> = BTreeMap::new();
    for (key, _) in &keys {
        *by_kind.entry(kind_of(key)).or_default() += 1;
    }
    let longest = LONGEST_TTL.as_millis() as i64;
    let without_ttl = keys.iter().filter(|(_, ttl)| *ttl < 0).count();
    let too_long = keys.iter().filter(|(_, ttl)| *ttl > longest).count();
    let ttls: Vec<i64> = keys
        .iter()
        .map(|(_, ttl)| *ttl)
        .filter(|ttl| *ttl >= 0)
        .collect();
    let dbsize: u64 = redis::cmd("DBSIZE")
        .query_async(&mut connection)
        .await
        .expect("DBSIZE");
    println!(
        "redis: {} keys of the run ({by_kind:?}), DBSIZE {dbsize}; TTLs from {} s to {} s",
        keys.len(),
        ttls.iter().min().copied().unwrap_or(0) / 1000,
        ttls.iter().max().copied().unwrap_or(0) / 1000
    );
    report.check(
        "the run left the store's keys in Redis to check (abandoned challenges, their index)",
        by_kind.get("challenge").is_some_and(|n| *n > 0)
            && by_kind.get("user index").is_some_and(|n| *n > 0),
        format!("{by_kind:?}: the check below would prove nothing of the store"),
    );
    report.check(
        "every Redis key of the run expires (a TTL, at most the gate's 600 s)",
        without_ttl == 0 && too_long == 0,
        format!("{without_ttl} keys without a TTL, {too_long} longer than {longest} ms"),
    );
    if options.wait_expiry {
        let wait = Duration::from_millis(ttls.iter().max().copied().unwrap_or(0) as u64 + 30_000);
        println!("waiting up to {wait:?} for them to expire ...");
        let deadline = Instant::now() + wait;
        let mut left = keys.len();
        while left > 0 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_secs(10)).await;
            left = keys_and_ttls(&mut connection, &options.prefix).await.len();
        }
        let dbsize: u64 = redis::cmd("DBSIZE")
            .query_async(&mut connection)
            .await
            .expect("DBSIZE");
        report.check(
            "every key of the run is gone once its TTL passed",
            left == 0,
            format!("{left} keys are left (DBSIZE {dbsize})"),
        );
        println!("redis: {left} keys of the run left, DBSIZE {dbsize}");
    }
}
