//! Latency per operation: every request of an operation answered this much later (real
//! time), on top of whatever fault it meets. Unlike a [`Fault::latency`](super::Fault::latency),
//! which replaces the faults queued behind it while it lasts, a latency stays until changed
//! and leaves the faults be.

use std::time::Duration;

use super::faults::{ANY_OPERATION, CONTROL_OPERATIONS};

/// The latency of each operation (and of [`ANY_OPERATION`]).
#[derive(Debug, Default)]
pub(crate) struct Latencies {
    set: Vec<(String, Duration)>,
}

impl Latencies {
    /// Sets `operation`'s latency; zero removes it.
    pub(crate) fn set(&mut self, operation: &str, delay: Duration) {
        self.set.retain(|(name, _)| name != operation);
        if !delay.is_zero() {
            self.set.push((operation.to_owned(), delay));
        }
    }

    pub(crate) fn clear(&mut self) {
        self.set.clear();
    }

    /// The delay of a request of `operation`: its own, else the wildcard's. The emulator's
    /// controls are never delayed.
    pub(crate) fn of(&self, operation: &str) -> Option<Duration> {
        if CONTROL_OPERATIONS.contains(&operation) {
            return None;
        }
        let find = |wanted: &str| {
            self.set
                .iter()
                .find(|(name, _)| name == wanted)
                .map(|(_, delay)| *delay)
        };
        find(operation).or_else(|| find(ANY_OPERATION))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_operation_has_its_own_latency_else_the_wildcard() {
        let mut latencies = Latencies::default();
        latencies.set("track", Duration::from_millis(200));
        latencies.set(ANY_OPERATION, Duration::from_millis(50));
        assert_eq!(latencies.of("track"), Some(Duration::from_millis(200)));
        assert_eq!(latencies.of("getUser"), Some(Duration::from_millis(50)));
        assert_eq!(latencies.of("emulatorFaults"), None);
        latencies.set("track", Duration::ZERO);
        assert_eq!(latencies.of("track"), Some(Duration::from_millis(50)));
        latencies.clear();
        assert_eq!(latencies.of("getUser"), None);
    }
}
