//! Real Redis for the tests: `redis-server` (Debian's package) started by the test itself,
//! on a free loopback port, with persistence off, and gone when the test process is.
//!
//! - [`shared`]: one server per test binary, started by the first test that asks.
//! - [`shared_cluster`]: one three-master Redis Cluster per test binary.
//! - [`RedisServer::start`]: a server of a test's own, that it may stop, restart or pause.
//!
//! Each starts `redis-server` under a small `sh` watchdog whose standard input is a pipe
//! from the test process: when the test process ends, however it ends (a panic, a
//! signal, `SIGKILL`), the pipe closes, the watchdog's `read` returns and it kills the
//! server. So no server outlives its test run, with no cleanup code that could be
//! skipped. [`RedisServer::stop`] writes a line into the pipe to the same effect.
//!
//! Where `redis-server` is missing, [`redis_installed`] says so and the tests skip; with
//! `CI` set they fail instead (`.ci/redis-deps.sh` installs the package).
//!
//! Each test binary uses some of this, so each declares `mod redis_support;`.
#![allow(dead_code)]

use std::io::Write as _;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// How long a server may take to answer `PING` after it was started.
const START_TIMEOUT: Duration = Duration::from_secs(15);
/// How long a cluster may take to reach `cluster_state:ok` once its slots are assigned.
const CLUSTER_TIMEOUT: Duration = Duration::from_secs(30);

/// The server binaries, found on `PATH` (Debian puts them in `/usr/bin`).
pub fn tool(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
        .chain([PathBuf::from("/usr/bin")])
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

/// The one place that decides whether this machine can run the Redis tests.
///
/// Without `redis-server` a developer's `cargo test` still passes, with a notice on
/// stderr. CI (where `CI` is set) installs it first, so there a missing server is a
/// broken setup, and the test fails rather than pass without having run.
pub fn redis_installed(tools: &[&str]) -> bool {
    let missing: Vec<&str> = tools
        .iter()
        .copied()
        .filter(|name| tool(name).is_none())
        .collect();
    if missing.is_empty() {
        return true;
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "CI is set but {missing:?} is missing: run .ci/redis-deps.sh \
         (apt-get install redis-server) before the tests"
    );
    // Straight to stderr, not `eprintln!`, which the test harness captures.
    let _ = writeln!(
        std::io::stderr(),
        "redis test skipped: install redis-server ({missing:?} not found)"
    );
    false
}

/// One `redis-server` of the test process's.
#[derive(Debug)]
pub struct RedisServer {
    port: u16,
    dir: PathBuf,
    args: Vec<String>,
    watchdog: Option<Watchdog>,
}

#[derive(Debug)]
struct Watchdog {
    child: Child,
    stdin: ChildStdin,
}

/// The watchdog: runs the server in the background, waits for a line or the end of its
/// standard input, then kills the server and waits for it, so that the port is free
/// once the watchdog has exited. (`$0` is the server binary, `$@` its arguments.)
const WATCHDOG: &str = r#""$0" "$@" &
server=$!
read -r _
kill -9 "$server" 2>/dev/null
wait "$server" 2>/dev/null
exit 0
"#;

impl RedisServer {
    /// A server on a free port with persistence off and `extra` arguments (such as
    /// `--maxmemory 4mb`). Panics if it does not come up (call [`redis_installed`] first).
    pub fn start(extra: &[&str]) -> Self {
        for _ in 0..5 {
            let port = free_port(bindable);
            let mut server = Self::configured(port, extra);
            match server.launch() {
                Ok(()) => return server,
                // Someone took the port between our probe and the server's bind.
                Err(log) if log.contains("Address already in use") => continue,
                Err(log) => panic!("redis-server did not start on port {port}:\n{log}"),
            }
        }
        panic!("no free port for redis-server after 5 tries");
    }

    fn configured(port: u16, extra: &[&str]) -> Self {
        let dir = scratch_dir().join(format!("{port}"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("a scratch directory for redis-server");
        let dir_text = dir.to_str().expect("a UTF-8 scratch path").to_owned();
        let mut args: Vec<String> = [
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--daemonize",
            "no",
            "--dir",
            &dir_text,
            "--logfile",
            &format!("{dir_text}/redis.log"),
        ]
        .map(str::to_owned)
        .to_vec();
        args.extend(extra.iter().map(|arg| arg.to_string()));
        Self {
            port,
            dir,
            args,
            watchdog: None,
        }
    }

    /// Starts the server and waits for its `PING`; on failure, the server's log.
    fn launch(&mut self) -> Result<(), String> {
        assert!(self.watchdog.is_none(), "the server is running already");
        let _ = std::fs::remove_file(self.log_path());
        let server = tool("redis-server").expect("redis-server is installed");
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(WATCHDOG)
            .arg(server)
            .args(&self.args)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("sh starts");
        let stdin = child.stdin.take().expect("a piped stdin");
        self.watchdog = Some(Watchdog { child, stdin });
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if self.ping() {
                return Ok(());
            }
            let log = std::fs::read_to_string(self.log_path()).unwrap_or_default();
            if log.contains("Address already in use") || Instant::now() > deadline {
                self.stop();
                return Err(log);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Kills the server (`SIGKILL`: a crash, not a shutdown) and waits until it is gone.
    pub fn stop(&mut self) {
        if let Some(mut watchdog) = self.watchdog.take() {
            let _ = watchdog.stdin.write_all(b"stop\n");
            drop(watchdog.stdin);
            let _ = watchdog.child.wait();
        }
    }

    /// Starts the server again on the same port, empty (nothing was persisted).
    pub fn restart(&mut self) {
        self.stop();
        self.launch()
            .unwrap_or_else(|log| panic!("redis-server did not restart:\n{log}"));
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `redis://127.0.0.1:<port>/`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// A plain (blocking) connection, for the tests' own look at the server.
    pub fn admin(&self) -> redis::Connection {
        redis::Client::open(self.url())
            .expect("a valid URL")
            .get_connection_with_timeout(Duration::from_secs(5))
            .expect("the test connects to its redis-server")
    }

    /// Whether the server answers `PING` now.
    fn ping(&self) -> bool {
        let Ok(client) = redis::Client::open(self.url()) else {
            return false;
        };
        let Ok(mut connection) = client.get_connection_with_timeout(Duration::from_millis(200))
        else {
            return false;
        };
        redis::cmd("PING")
            .query::<String>(&mut connection)
            .is_ok_and(|pong| pong == "PONG")
    }

    fn log_path(&self) -> PathBuf {
        self.dir.join("redis.log")
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// This binary's shared server: `None` (after the notice) when redis-server is missing.
pub fn shared() -> Option<&'static RedisServer> {
    static SERVER: OnceLock<Option<RedisServer>> = OnceLock::new();
    SERVER
        .get_or_init(|| redis_installed(&["redis-server"]).then(|| RedisServer::start(&[])))
        .as_ref()
}

/// A three-master Redis Cluster with no replicas.
#[derive(Debug)]
pub struct RedisCluster {
    nodes: Vec<RedisServer>,
}

impl RedisCluster {
    /// Starts three cluster-enabled servers and joins them with `redis-cli --cluster
    /// create`, then waits until every node reports `cluster_state:ok`.
    pub fn start() -> Self {
        let nodes: Vec<RedisServer> = (0..3).map(|_| Self::node()).collect();
        let addresses: Vec<String> = nodes
            .iter()
            .map(|node| format!("127.0.0.1:{}", node.port))
            .collect();
        let output = Command::new(tool("redis-cli").expect("redis-cli is installed"))
            .arg("--cluster")
            .arg("create")
            .args(&addresses)
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .stdin(Stdio::null())
            .output()
            .expect("redis-cli runs");
        assert!(
            output.status.success(),
            "redis-cli --cluster create failed:\n{}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        let cluster = Self { nodes };
        cluster.wait_until_ok();
        cluster
    }

    /// A cluster node: its bus port is its port + 10 000, so both must be free.
    fn node() -> RedisServer {
        for _ in 0..5 {
            let port =
                free_port(|port| port <= 55_535 && bindable(port) && bindable(port + 10_000));
            let mut node = RedisServer::configured(
                port,
                &[
                    "--cluster-enabled",
                    "yes",
                    "--cluster-config-file",
                    "nodes.conf",
                    "--cluster-node-timeout",
                    "5000",
                ],
            );
            match node.launch() {
                Ok(()) => return node,
                Err(log) if log.contains("Address already in use") => continue,
                Err(log) => panic!("cluster node did not start on port {port}:\n{log}"),
            }
        }
        panic!("no free port pair for a cluster node after 5 tries");
    }

    fn wait_until_ok(&self) {
        let deadline = Instant::now() + CLUSTER_TIMEOUT;
        for node in &self.nodes {
            loop {
                let info: String = redis::cmd("CLUSTER")
                    .arg("INFO")
                    .query(&mut node.admin())
                    .expect("CLUSTER INFO");
                if info.contains("cluster_state:ok") && info.contains("cluster_known_nodes:3") {
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "the cluster is not ready:\n{info}"
                );
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }

    pub fn nodes(&self) -> &[RedisServer] {
        &self.nodes
    }

    /// Every node's URL, for a cluster client.
    pub fn urls(&self) -> Vec<String> {
        self.nodes.iter().map(RedisServer::url).collect()
    }
}

/// This binary's shared cluster: `None` (after the notice) when Redis is missing.
pub fn shared_cluster() -> Option<&'static RedisCluster> {
    static CLUSTER: OnceLock<Option<RedisCluster>> = OnceLock::new();
    CLUSTER
        .get_or_init(|| redis_installed(&["redis-server", "redis-cli"]).then(RedisCluster::start))
        .as_ref()
}

/// A port the system just gave out and that `accept` also takes.
fn free_port(accept: impl Fn(u16) -> bool) -> u16 {
    for _ in 0..100 {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a free loopback port")
            .port();
        if accept(port) {
            return port;
        }
    }
    panic!("no acceptable free port in 100 tries");
}

fn bindable(port: u16) -> bool {
    TcpListener::bind(("127.0.0.1", port)).is_ok()
}

/// `target/tmp/redis-<pid>/`: the servers' directories (logs, cluster configuration),
/// after removing those of test processes that are gone.
fn scratch_dir() -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let root = Path::new(env!("CARGO_TARGET_TMPDIR"));
        if let Ok(entries) = std::fs::read_dir(root) {
            for entry in entries.flatten() {
                let name = entry.file_name();
                let Some(pid) = name.to_str().and_then(|name| name.strip_prefix("redis-")) else {
                    continue;
                };
                if !Path::new("/proc").join(pid).exists() {
                    let _ = std::fs::remove_dir_all(entry.path());
                }
            }
        }
        root.join(format!("redis-{}", std::process::id()))
    })
    .clone()
}
