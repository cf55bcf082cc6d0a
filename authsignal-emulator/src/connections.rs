//! Counting the TCP connections the emulator accepts: how many a client opened in all,
//! and how many are open now. A load test reads them to see whether a client reuses its
//! connections or opens one per call.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// The counts, shared by the accept loop and the handles.
#[derive(Debug, Default)]
pub(crate) struct Connections {
    counts: Arc<Counts>,
}

#[derive(Debug, Default)]
struct Counts {
    accepted: AtomicU64,
    open: AtomicU64,
}

/// One accepted connection: counted open until dropped.
#[derive(Debug)]
pub(crate) struct OpenConnection {
    counts: Arc<Counts>,
}

impl Connections {
    /// Counts a connection just accepted; it stays open in the count as long as the
    /// guard lives.
    pub(crate) fn accepted(&self) -> OpenConnection {
        self.counts.accepted.fetch_add(1, Ordering::Relaxed);
        self.counts.open.fetch_add(1, Ordering::Relaxed);
        OpenConnection {
            counts: self.counts.clone(),
        }
    }

    /// Connections accepted since the emulator started.
    pub(crate) fn accepted_count(&self) -> u64 {
        self.counts.accepted.load(Ordering::Relaxed)
    }

    /// Connections open now.
    pub(crate) fn open_count(&self) -> u64 {
        self.counts.open.load(Ordering::Relaxed)
    }
}

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.counts.open.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_connection_is_open_while_its_guard_lives_and_accepted_for_ever() {
        let connections = Connections::default();
        let first = connections.accepted();
        let second = connections.accepted();
        assert_eq!(
            (connections.accepted_count(), connections.open_count()),
            (2, 2)
        );
        drop(first);
        assert_eq!(
            (connections.accepted_count(), connections.open_count()),
            (2, 1)
        );
        drop(second);
        assert_eq!(
            (connections.accepted_count(), connections.open_count()),
            (2, 0)
        );
    }
}
