//! Many concurrent clients through the gate while Authsignal is slow: `track` answers
//! 50 ms late (the emulator's injected latency), so `C` clients, each sending its next
//! request when the last is answered, can at best reach `C / 50 ms`. How close the gate
//! comes is what it costs under load; the emulator counts the connections the gate's
//! client opened to it.
//!
//! The gate's Authsignal client is measured unbounded and with
//! `AuthsignalBuilder::max_connections`, one after another in the same run, each with a
//! fresh emulator, app and load: by default unbounded, bounded at the clients' number,
//! and at a quarter of it (`--max-connections 0,64`: these only; 0 is unbounded).
//!
//! `cargo bench --bench gate_load [-- --clients 256 --seconds 10 --latency-ms 50]`; the
//! numbers are in benches/RESULTS.md. No criterion: for each bound a warm-up, then a
//! timed window.
//!
//! Everything is on loopback in this process, on three runtimes whose threads are named,
//! so that `/proc/self/task/*/stat` tells where the CPU went: `load` (the clients, over
//! TCP), `app` (the app's server, the gate and its Authsignal client), `emulator`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use authsignal_emulator::{Emulator, EmulatorHandle};
use axum::Router;
use axum::routing::post;
use axum_authsignal::StepUpConfig;
use tokio::runtime::Runtime;

/// What one run does.
#[derive(Debug, Clone)]
struct Plan {
    clients: usize,
    latency: Duration,
    warm_up: Duration,
    window: Duration,
    /// The gate's `max_connections` of each measurement, in turn (`None`: unbounded).
    bounds: Vec<Option<usize>>,
}

impl Plan {
    /// From `--clients N --seconds S --latency-ms L --max-connections B,..`;
    /// `cargo test --benches` (no `--bench`) gets a short, small run that proves the code
    /// works.
    fn from_args() -> Self {
        let args: Vec<String> = std::env::args().skip(1).collect();
        let bench = args.iter().any(|arg| arg == "--bench");
        let text = |flag: &str| {
            let at = args.iter().position(|arg| arg == flag)?;
            args.get(at + 1)
        };
        let number = |flag: &str, text: &str| {
            text.parse::<u64>()
                .unwrap_or_else(|_| panic!("{flag} takes whole numbers, not {text}"))
        };
        let value = |flag: &str| text(flag).map(|text| number(flag, text));
        let (clients, seconds, warm_up) = if bench { (256, 10, 3) } else { (8, 1, 1) };
        let clients = value("--clients").map_or(clients, |n| n as usize);
        let bounds = match text("--max-connections") {
            Some(list) => list
                .split(',')
                .map(|bound| match number("--max-connections", bound) {
                    0 => None,
                    bound => Some(bound as usize),
                })
                .collect(),
            None => vec![None, Some(clients), Some(clients.div_ceil(4))],
        };
        Self {
            clients,
            latency: Duration::from_millis(value("--latency-ms").unwrap_or(50)),
            warm_up: Duration::from_secs(warm_up),
            window: Duration::from_secs(value("--seconds").unwrap_or(seconds)),
            bounds,
        }
    }
}

fn runtime(name: &str, workers: usize) -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .thread_name(name)
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

async fn transfer() -> &'static str {
    "done"
}

/// The app: `POST /transfer` behind the gate (the emulator's default for an action it has
/// no rule for is `ALLOW`), its user from a header as a gateway would set it; the gate's
/// client bounded at `max_connections`, if any. Served until the task is aborted.
async fn serve_app(
    emulator: &EmulatorHandle,
    max_connections: Option<usize>,
) -> (std::net::SocketAddr, tokio::task::JoinHandle<()>) {
    let mut client = emulator.client_builder();
    if let Some(bound) = max_connections {
        client = client.max_connections(bound);
    }
    let client = client.build().expect("a client of the emulator");
    let step_up = StepUpConfig::builder(client)
        .user_id(|parts| {
            let user = parts.headers.get("x-user")?.to_str().ok()?;
            Some(user.to_owned())
        })
        .build();
    let app = Router::new().route("/transfer", post(transfer).layer(step_up.gate("transfer")));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a loopback port");
    let addr = listener.local_addr().expect("its address");
    let serving = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (addr, serving)
}

/// Counted by the clients.
#[derive(Default)]
struct Tally {
    ok: AtomicU64,
    other: AtomicU64,
}

/// One client: a request, its answer, the next request, until told to stop. Returns the
/// latencies (µs) of the requests that ended in the window.
async fn client(
    http: reqwest::Client,
    url: String,
    user: String,
    tally: Arc<Tally>,
    measuring: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
) -> Vec<u64> {
    let mut latencies = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        let started = Instant::now();
        let sent = http
            .post(&url)
            .header("x-user", &user)
            .header("content-type", "application/json")
            .body(r#"{"amount":10}"#)
            .send()
            .await;
        let ok = match sent {
            Ok(response) => response.status().is_success() && response.bytes().await.is_ok(),
            Err(_) => false,
        };
        if measuring.load(Ordering::Relaxed) {
            latencies.push(started.elapsed().as_micros() as u64);
            let counter = if ok { &tally.ok } else { &tally.other };
            counter.fetch_add(1, Ordering::Relaxed);
        }
    }
    latencies
}

/// CPU time (user + system) of this process's threads, by thread name, in seconds.
fn cpu_by_thread() -> Vec<(String, f64)> {
    let ticks = clock_ticks();
    let mut by_name: Vec<(String, f64)> = Vec::new();
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return by_name;
    };
    for task in tasks.flatten() {
        let Ok(stat) = std::fs::read_to_string(task.path().join("stat")) else {
            continue;
        };
        // `tid (name) state ...`: the name may hold spaces, the fields after it do not.
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        let name = stat[open + 1..close].to_owned();
        let fields: Vec<&str> = stat[close + 2..].split(' ').collect();
        // utime and stime are fields 14 and 15 of the whole line, 12 and 13 after `)`.
        let used: f64 = [11, 12]
            .iter()
            .filter_map(|&at| fields.get(at)?.parse::<f64>().ok())
            .sum();
        let seconds = used / ticks;
        match by_name.iter_mut().find(|(known, _)| *known == name) {
            Some((_, total)) => *total += seconds,
            None => by_name.push((name, seconds)),
        }
    }
    by_name
}

fn clock_ticks() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|out| String::from_utf8(out.stdout).ok()?.trim().parse().ok())
        .unwrap_or(100.0)
}

/// Busy and total jiffies of the whole machine (`/proc/stat`), for the others' load.
fn machine_cpu() -> (f64, f64) {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let line = stat.lines().next().unwrap_or_default();
    let fields: Vec<f64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|field| field.parse().ok())
        .collect();
    let total: f64 = fields.iter().sum();
    // idle and iowait are the 4th and 5th.
    let idle = fields.get(3).copied().unwrap_or(0.0) + fields.get(4).copied().unwrap_or(0.0);
    (total - idle, total)
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|text| {
            text.split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_default()
}

fn since(before: &[(String, f64)], after: &[(String, f64)]) -> Vec<(String, f64)> {
    after
        .iter()
        .map(|(name, total)| {
            let earlier = before
                .iter()
                .find(|(known, _)| known == name)
                .map_or(0.0, |(_, seconds)| *seconds);
            (name.clone(), total - earlier)
        })
        .filter(|(_, seconds)| *seconds > 0.0)
        .collect()
}

fn percentile(sorted: &[u64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() - 1) as f64 * q).round() as usize] as f64 / 1000.0
}

/// The three runtimes, kept for every measurement of the run.
struct Runtimes {
    emulator: Runtime,
    app: Runtime,
    load: Runtime,
}

fn main() {
    let plan = Plan::from_args();
    let runtimes = Runtimes {
        emulator: runtime("emulator", 1),
        app: runtime("app", 2),
        load: runtime("load", 1),
    };
    for bound in &plan.bounds {
        measure(&plan, &runtimes, *bound);
    }
}

/// One measurement: a fresh emulator, app and clients, the gate's client bounded at
/// `max_connections` (or not); printed.
fn measure(plan: &Plan, runtimes: &Runtimes, max_connections: Option<usize>) {
    let emulator = runtimes.emulator.block_on(async {
        Emulator::builder()
            .latency("track", plan.latency)
            .start()
            .await
            .expect("the emulator starts")
    });
    let (addr, serving) = runtimes
        .app
        .block_on(async { serve_app(&emulator, max_connections).await });
    let url = format!("http://{addr}/transfer");

    let tally = Arc::new(Tally::default());
    let measuring = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(plan.clients)
        .build()
        .expect("a client");
    let clients: Vec<_> = (0..plan.clients)
        .map(|n| {
            runtimes.load.spawn(client(
                http.clone(),
                url.clone(),
                format!("user-{n}"),
                tally.clone(),
                measuring.clone(),
                stop.clone(),
            ))
        })
        .collect();

    // The peak of the gate's connections open to the emulator, sampled every 5 ms.
    let peak_open = Arc::new(AtomicU64::new(0));
    let sampler = {
        let (emulator, peak_open, stop) = (emulator.clone(), peak_open.clone(), stop.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                peak_open.fetch_max(emulator.connections_open(), Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(5));
            }
        })
    };

    std::thread::sleep(plan.warm_up);
    let accepted_before = emulator.connections_accepted();
    let load_before = load_average();
    let (cpu_before, machine_before) = (cpu_by_thread(), machine_cpu());
    measuring.store(true, Ordering::Relaxed);
    let started = Instant::now();
    std::thread::sleep(plan.window);
    measuring.store(false, Ordering::Relaxed);
    let window = started.elapsed().as_secs_f64();
    let (cpu_after, machine_after) = (cpu_by_thread(), machine_cpu());
    let accepted_after = emulator.connections_accepted();
    stop.store(true, Ordering::Relaxed);
    let mut latencies: Vec<u64> = runtimes.load.block_on(async {
        let mut all = Vec::new();
        for client in clients {
            all.extend(client.await.expect("a client task"));
        }
        all
    });
    latencies.sort_unstable();
    sampler.join().expect("the sampler");

    let ok = tally.ok.load(Ordering::Relaxed);
    let other = tally.other.load(Ordering::Relaxed);
    let rate = ok as f64 / window;
    let ideal = plan.clients as f64 / plan.latency.as_secs_f64();
    let cpu = since(&cpu_before, &cpu_after);
    let ours: f64 = cpu.iter().map(|(_, seconds)| seconds).sum();
    let ticks = clock_ticks();
    let machine_busy = (machine_after.0 - machine_before.0) / ticks;
    let machine_total = (machine_after.1 - machine_before.1) / ticks;
    let cores = machine_total / window;

    println!(
        "gate_load: {} clients, track +{} ms, max_connections {}, {:.1} s window after {} s of warm-up",
        plan.clients,
        plan.latency.as_millis(),
        max_connections.map_or("unset".to_owned(), |bound| bound.to_string()),
        window,
        plan.warm_up.as_secs()
    );
    println!(
        "    load average before the window: {load_before}; after: {}",
        load_average()
    );
    println!(
        "    answered 2xx: {ok} ({rate:.0}/s), other: {other}; ideal {} / {} ms = {ideal:.0}/s; achieved {:.1} %",
        plan.clients,
        plan.latency.as_millis(),
        100.0 * rate / ideal
    );
    println!(
        "    latency ms: p50 {:.1}, p90 {:.1}, p99 {:.1}, max {:.1}",
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.9),
        percentile(&latencies, 0.99),
        percentile(&latencies, 1.0)
    );
    println!(
        "    upstream connections (accepted by the emulator): {accepted_after} since the start, {} in the window, at most {} open at once",
        accepted_after - accepted_before,
        peak_open.load(Ordering::Relaxed)
    );
    println!(
        "    CPU in the window: this process {:.2} cores ({:.0} µs per request), the machine {:.2} of {:.0} cores busy (others {:.2})",
        ours / window,
        1e6 * ours / ok.max(1) as f64,
        machine_busy / window,
        cores,
        (machine_busy - ours).max(0.0) / window
    );
    for (name, seconds) in &cpu {
        println!(
            "        {name}: {:.2} cores, {:.0} µs per request",
            seconds / window,
            1e6 * seconds / ok.max(1) as f64
        );
    }
    assert_eq!(
        other, 0,
        "every request through the gate must be answered 2xx"
    );
    serving.abort();
    drop(http);
    runtimes.emulator.block_on(emulator.shutdown());
    println!();
}
