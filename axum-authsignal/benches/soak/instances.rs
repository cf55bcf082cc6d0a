//! The driver's side of the two instances: each this same program run as
//! `soak instance ...` ([`crate::instance`]), a process of its own, as instances behind a
//! load balancer are; its standard input a pipe from the driver, so that it ends with
//! the driver however the driver ends.

use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt as _, BufReader};
use tokio::process::{Child, ChildStdin, Command};

use crate::options::Options;
use crate::stats::Stats;

/// How long an instance may take to connect to Redis and listen.
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// How long an instance may take to end once told to.
const STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// A running instance.
pub struct Instance {
    pub name: &'static str,
    /// `http://127.0.0.1:<port>`.
    pub url: String,
    child: Child,
    /// Dropped to tell the instance to end.
    stdin: Option<ChildStdin>,
    http: reqwest::Client,
}

impl Instance {
    /// Starts instance `name`, to live at most `lifetime`.
    pub async fn start(name: &'static str, options: &Options, lifetime: Duration) -> Self {
        let program = std::env::current_exe().expect("the soak's own path");
        let mut child = Command::new(program)
            .arg("instance")
            .args(["--name", name])
            .args(["--redis", &options.redis_url])
            .args(["--emulator", &options.emulator_url])
            .args(["--secret", &options.secret])
            .args(["--prefix", &options.prefix])
            .args(["--max-connections", &options.max_connections.to_string()])
            .args(["--lifetime", &lifetime.as_secs().to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("an instance starts");
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().expect("its stdout");
        let mut lines = BufReader::new(stdout).lines();
        let first = tokio::time::timeout(START_TIMEOUT, lines.next_line()).await;
        let addr = match first {
            Ok(Ok(Some(line))) => line.strip_prefix("listening on ").map(str::to_owned),
            _ => None,
        };
        let addr = addr.unwrap_or_else(|| panic!("instance {name} did not start"));
        // Whatever else it prints, the driver passes on.
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                println!("instance {name}: {line}");
            }
        });
        Self {
            name,
            url: format!("http://{addr}"),
            child,
            stdin,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .expect("a client"),
        }
    }

    async fn get(&self, path: &str) -> Result<reqwest::Response, String> {
        let answer = self.http.get(format!("{}{path}", self.url)).send().await;
        answer
            .and_then(reqwest::Response::error_for_status)
            .map_err(|err| format!("instance {}: {path}: {err}", self.name))
    }

    /// Its memory, panics and handler runs now.
    pub async fn stats(&self) -> Result<Stats, String> {
        let answer = self.get("/soak/stats").await?;
        answer.json().await.map_err(|err| err.to_string())
    }

    /// Its metrics in Prometheus' text format, scraped now.
    pub async fn metrics(&self) -> Result<String, String> {
        let answer = self.get("/soak/metrics").await?;
        answer.text().await.map_err(|err| err.to_string())
    }

    /// Whether the process still runs (it has not crashed nor exited).
    pub fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Tells it to end and waits: whether it ended well.
    pub async fn stop(mut self) -> bool {
        drop(self.stdin.take());
        match tokio::time::timeout(STOP_TIMEOUT, self.child.wait()).await {
            Ok(Ok(status)) => status.success(),
            _ => false,
        }
    }
}
