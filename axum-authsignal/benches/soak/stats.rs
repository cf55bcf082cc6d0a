//! What a process of the soak tells of itself: its memory and its panics, and, for an
//! instance, its handler's runs. An instance answers it as JSON on `GET /soak/stats`;
//! the driver reads it there.

use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};

/// A process's memory at one moment.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
pub struct Memory {
    pub rss_kib: u64,
    /// The bytes allocated now, counted by the global allocator (`benches/support/heap.rs`):
    /// steady when nothing grows, whatever the allocator's caches do to the RSS.
    pub heap_kib: u64,
    /// Open file descriptors: mostly sockets, whose buffers are a part of the heap.
    pub fds: usize,
}

impl Memory {
    /// This process's memory now.
    pub fn now() -> Self {
        let (bytes, _) = crate::heap::allocated();
        Self {
            rss_kib: rss_kib(),
            heap_kib: bytes.max(0) as u64 / 1024,
            fds: std::fs::read_dir("/proc/self/fd").map_or(0, Iterator::count),
        }
    }
}

impl std::fmt::Display for Memory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "RSS {} KiB, heap {} KiB, {} open files",
            self.rss_kib, self.heap_kib, self.fds
        )
    }
}

/// The process's resident set, from `/proc/self/status`.
fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// How often an instance's handler ran, by how the request got through.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
pub struct Runs {
    pub allowed: u64,
    pub verified: u64,
    /// Of the `BLOCK`ed action, or failed open: none may happen.
    pub forbidden: u64,
    /// A challenge whose handler had already run (its key was in Redis).
    pub repeated: u64,
    /// The handler could not record its run in Redis: a second run could go unseen.
    pub unrecorded: u64,
}

impl Runs {
    /// The runs that answered the client 200.
    pub fn total(&self) -> u64 {
        self.allowed + self.verified
    }
}

impl std::ops::Add for Runs {
    type Output = Runs;

    fn add(self, other: Runs) -> Runs {
        Runs {
            allowed: self.allowed + other.allowed,
            verified: self.verified + other.verified,
            forbidden: self.forbidden + other.forbidden,
            repeated: self.repeated + other.repeated,
            unrecorded: self.unrecorded + other.unrecorded,
        }
    }
}

/// What an instance answers on `GET /soak/stats`.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct Stats {
    pub memory: Memory,
    pub panics: u64,
    pub runs: Runs,
}

static PANICS: AtomicU64 = AtomicU64::new(0);

/// Counts every panic of the process (a handler's, a task's, the gate's), then reports it
/// as the default hook does.
pub fn count_panics() {
    let report = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        PANICS.fetch_add(1, Ordering::Relaxed);
        report(info);
    }));
}

/// The panics of this process so far.
pub fn panics() -> u64 {
    PANICS.load(Ordering::Relaxed)
}
