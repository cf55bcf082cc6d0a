//! The soak's command line. The driver, as `.ci/soak.sh` runs it:
//!
//! ```text
//! soak --redis redis://127.0.0.1:PORT/ --emulator http://127.0.0.1:PORT/v1 --secret S
//!      [--seconds 60] [--connections 256] [--fault-percent 30] [--max-connections 64]
//!      [--wait-expiry]
//! ```
//!
//! An instance, as the driver starts it: `soak instance --name A --redis URL --emulator
//! URL --secret S --prefix P --max-connections N --lifetime SECONDS`.
//!
//! Without `--redis` (as `cargo test --benches` runs every bench) it does nothing.

use std::time::Duration;

/// The gate's time to live of a pending challenge (`step_up::CHALLENGE_TTL`): the longest
/// any key of the run may live.
pub const LONGEST_TTL: Duration = axum_authsignal::CHALLENGE_TTL;

/// What this run of the program is.
pub enum Command {
    Drive(Options),
    Instance(InstanceOptions),
    /// No `--redis`: nothing to do.
    Nothing,
}

/// The driver's options.
#[derive(Debug, Clone)]
pub struct Options {
    pub redis_url: String,
    pub emulator_url: String,
    pub secret: String,
    pub duration: Duration,
    pub connections: usize,
    pub fault_percent: u8,
    /// Each instance's bound on its connections to Authsignal
    /// (`AuthsignalBuilder::max_connections`); 0 for none.
    pub max_connections: usize,
    /// After the checks, wait for every key of the run to expire (up to [`LONGEST_TTL`]).
    pub wait_expiry: bool,
    /// Every Redis key of this run starts with it: a run's keys are told from any other's.
    pub prefix: String,
}

/// An instance's options, from the driver.
#[derive(Debug, Clone)]
pub struct InstanceOptions {
    pub name: String,
    pub redis_url: String,
    pub emulator_url: String,
    pub secret: String,
    pub prefix: String,
    pub max_connections: usize,
    /// It ends by itself after this long, were the driver to hang.
    pub lifetime: Duration,
}

/// The arguments, read by flag.
struct Args(Vec<String>);

impl Args {
    fn value(&self, flag: &str) -> Option<String> {
        let at = self.0.iter().position(|arg| arg == flag)?;
        self.0.get(at + 1).cloned()
    }

    fn needed(&self, flag: &str) -> String {
        self.value(flag)
            .unwrap_or_else(|| panic!("{flag} <value> is needed"))
    }

    fn number(&self, flag: &str, default: u64) -> u64 {
        self.value(flag).map_or(default, |text| {
            text.parse()
                .unwrap_or_else(|_| panic!("{flag} takes a whole number, not {text:?}"))
        })
    }

    fn has(&self, flag: &str) -> bool {
        self.0.iter().any(|arg| arg == flag)
    }
}

impl Command {
    pub fn from_args() -> Self {
        let args = Args(std::env::args().skip(1).collect());
        if args.value("--redis").is_none() {
            return Command::Nothing;
        }
        if args.0.first().is_some_and(|first| first == "instance") {
            return Command::Instance(InstanceOptions {
                name: args.needed("--name"),
                redis_url: args.needed("--redis"),
                emulator_url: args.needed("--emulator"),
                secret: args.needed("--secret"),
                prefix: args.needed("--prefix"),
                max_connections: args.number("--max-connections", 0) as usize,
                lifetime: Duration::from_secs(args.number("--lifetime", 600)),
            });
        }
        Command::Drive(Options {
            redis_url: args.needed("--redis"),
            emulator_url: args.needed("--emulator"),
            secret: args.needed("--secret"),
            duration: Duration::from_secs(args.number("--seconds", 60).max(5)),
            connections: args.number("--connections", 256).max(1) as usize,
            fault_percent: args.number("--fault-percent", 30).min(100) as u8,
            max_connections: args.number("--max-connections", 64) as usize,
            wait_expiry: args.has("--wait-expiry"),
            prefix: format!("soak:{}:", uuid::Uuid::new_v4().simple()),
        })
    }
}

impl Options {
    /// The first fifth of the run (at least 2 s): connections opened, pools and caches
    /// filled, before memory is first read.
    pub fn warm_up(&self) -> Duration {
        (self.duration / 5).max(Duration::from_secs(2))
    }

    /// Two users per client: one's token is presented by the other now and then.
    pub fn users(&self) -> usize {
        2 * self.connections
    }

    /// How long the run may wait for its keys to expire.
    pub fn expiry_wait(&self) -> Duration {
        if self.wait_expiry {
            LONGEST_TTL + Duration::from_secs(60)
        } else {
            Duration::ZERO
        }
    }
}
