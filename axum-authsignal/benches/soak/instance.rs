//! One instance of the app as a process of its own, started by the driver
//! ([`crate::instances`]): the app ([`crate::app`]) with its own Prometheus recorder,
//! and beside it, ungated, what the driver reads:
//!
//! - `GET /soak/stats`: [`Stats`] as JSON (memory, panics, handler runs);
//! - `GET /soak/metrics`: the gate's metrics, which the driver scrapes every second as
//!   Prometheus would (a scrape also drains the histograms, which would otherwise keep
//!   every sample and grow the heap).
//!
//! It prints `listening on <addr>` once it serves, and ends when its standard input
//! closes (the driver stopped it, or is gone, however it went), or after `--lifetime`.

use std::io::{Read as _, Write as _};
use std::process::ExitCode;
use std::sync::Arc;

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

use crate::app::{self, Runs};
use crate::options::InstanceOptions;
use crate::stats::{self, Memory, Stats};

pub fn main(options: InstanceOptions) -> ExitCode {
    stats::count_panics();
    crate::hard_stop_after(options.lifetime);
    // The driver holds the other end: end of file is the driver saying stop, or gone.
    std::thread::spawn(|| {
        let _ = std::io::stdin().read_to_end(&mut Vec::new());
        std::process::exit(0);
    });
    crate::runtime().block_on(serve(options));
    ExitCode::FAILURE
}

#[derive(Clone)]
struct Reports {
    runs: Arc<Runs>,
    metrics: PrometheusHandle,
}

async fn serve(options: InstanceOptions) {
    let metrics = PrometheusBuilder::new()
        .install_recorder()
        .expect("the only metrics recorder of the process");
    let (app, runs) = app::app(&options).await;
    let reports = Router::new()
        .route("/soak/stats", get(stats))
        .route("/soak/metrics", get(render))
        .with_state(Reports { runs, metrics });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a loopback port");
    let addr = listener.local_addr().expect("its address");
    println!("listening on {addr}");
    std::io::stdout().flush().expect("stdout");
    let served = axum::serve(listener, app.merge(reports)).await;
    eprintln!(
        "soak: instance {}: the server ended: {served:?}",
        options.name
    );
}

async fn stats(State(reports): State<Reports>) -> Json<Stats> {
    Json(Stats {
        memory: Memory::now(),
        panics: stats::panics(),
        runs: reports.runs.now(),
    })
}

async fn render(State(reports): State<Reports>) -> String {
    reports.metrics.render()
}
