//! The emulator's own clock, and the timestamps it writes.
//!
//! Token expiry, TOTP windows and one-time-code expiry all read this clock instead of the
//! system's, so that a test can jump ten minutes ahead instead of waiting ten minutes.
//! It runs with the system clock until [`Clock::set`] pins it; [`Clock::advance`] moves it
//! either way.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use time::format_description::well_known::Rfc3339;
use time::format_description::{self, BorrowedFormatItem};
use time::{Date, OffsetDateTime};

/// A point in time, in milliseconds since the Unix epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct Timestamp(u64);

impl Timestamp {
    /// The timestamp of a `SystemTime` (times before 1970 read as the epoch).
    pub(crate) fn from_system(time: SystemTime) -> Self {
        let millis = time
            .duration_since(UNIX_EPOCH)
            .map_or(0, |since| since.as_millis());
        Self(u64::try_from(millis).unwrap_or(u64::MAX))
    }

    pub(crate) fn to_system(self) -> SystemTime {
        UNIX_EPOCH + Duration::from_millis(self.0)
    }

    /// Whole seconds since the epoch, as JWT claims and TOTP count them.
    pub(crate) fn unix_seconds(self) -> u64 {
        self.0 / 1000
    }

    pub(crate) fn plus(self, duration: Duration) -> Self {
        let millis = u64::try_from(duration.as_millis()).unwrap_or(u64::MAX);
        Self(self.0.saturating_add(millis))
    }

    /// RFC 3339 in UTC with milliseconds, as Authsignal writes it:
    /// `2024-04-11T22:30:52.317Z`.
    pub(crate) fn rfc3339(self) -> String {
        let nanos = i128::from(self.0) * 1_000_000;
        OffsetDateTime::from_unix_timestamp_nanos(nanos)
            .ok()
            .and_then(|at| at.format(&written()).ok())
            // Unreachable for any u64 of milliseconds the clock hands out (year < 10000
            // until the year 9999); the epoch is a visible, harmless stand-in.
            .unwrap_or_else(|| "1970-01-01T00:00:00.000Z".to_owned())
    }

    /// Reads an RFC 3339 date-time with an offset (`2024-04-11T12:00:00.5+02:00`) or a
    /// plain date (`2024-04-11`, midnight UTC). Calendar dates are checked by the `time`
    /// crate: `2024-02-31` is no date, not the 2nd of March.
    pub(crate) fn parse_rfc3339(text: &str) -> Option<Self> {
        let text = text.trim();
        let at = match OffsetDateTime::parse(text, &Rfc3339) {
            Ok(at) => at,
            Err(_) => Date::parse(text, &date_only())
                .ok()?
                .midnight()
                .assume_utc(),
        };
        let millis = at.unix_timestamp_nanos().div_euclid(1_000_000);
        u64::try_from(millis).ok().map(Self)
    }
}

/// `2024-04-11T22:30:52.317Z`: always UTC, always three digits of milliseconds.
fn written() -> Vec<BorrowedFormatItem<'static>> {
    format_description::parse_borrowed::<2>(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z",
    )
    .expect("a valid format description")
}

/// `2024-04-11`.
fn date_only() -> Vec<BorrowedFormatItem<'static>> {
    format_description::parse_borrowed::<2>("[year]-[month]-[day]")
        .expect("a valid format description")
}

/// The emulator's clock. Clones share one time.
#[derive(Debug, Clone, Default)]
pub(crate) struct Clock {
    state: Arc<Mutex<ClockState>>,
}

#[derive(Debug, Clone, Copy)]
enum ClockState {
    /// The system time moved by an offset in milliseconds (which `advance` grows).
    Running { offset_millis: i128 },
    /// A fixed time, which only `set` and `advance` change.
    Pinned(Timestamp),
}

impl Default for ClockState {
    fn default() -> Self {
        Self::Running { offset_millis: 0 }
    }
}

impl Clock {
    fn state(&self) -> std::sync::MutexGuard<'_, ClockState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The emulator's present.
    pub(crate) fn now(&self) -> Timestamp {
        match *self.state() {
            ClockState::Pinned(at) => at,
            ClockState::Running { offset_millis } => {
                let system = i128::from(Timestamp::from_system(SystemTime::now()).0);
                Timestamp(u64::try_from((system + offset_millis).max(0)).unwrap_or(u64::MAX))
            }
        }
    }

    /// Pins the clock at `time`: it stands still there until set or advanced again.
    pub(crate) fn set(&self, time: SystemTime) {
        *self.state() = ClockState::Pinned(Timestamp::from_system(time));
    }

    /// Moves the clock forward, pinned or running.
    pub(crate) fn advance(&self, by: Duration) {
        let mut state = self.state();
        *state = match *state {
            ClockState::Pinned(at) => ClockState::Pinned(at.plus(by)),
            ClockState::Running { offset_millis } => ClockState::Running {
                offset_millis: offset_millis.saturating_add(by.as_millis() as i128),
            },
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_round_trips() {
        for text in [
            "1970-01-01T00:00:00.000Z",
            "2024-04-11T22:30:52.317Z",
            "2000-02-29T23:59:59.999Z",
            "2100-12-31T00:00:01.000Z",
        ] {
            let parsed = Timestamp::parse_rfc3339(text).unwrap();
            assert_eq!(parsed.rfc3339(), text);
        }
    }

    #[test]
    fn rfc3339_reads_dates_offsets_and_fractions() {
        let at = |text| Timestamp::parse_rfc3339(text).map(Timestamp::rfc3339);
        assert_eq!(
            at("2024-04-11").as_deref(),
            Some("2024-04-11T00:00:00.000Z")
        );
        assert_eq!(
            at("2024-04-11T12:00:00+02:00").as_deref(),
            Some("2024-04-11T10:00:00.000Z")
        );
        assert_eq!(
            at("2024-04-11T12:00:00.5Z").as_deref(),
            Some("2024-04-11T12:00:00.500Z")
        );
        for bad in [
            "",
            "yesterday",
            "2024-13-01",
            "2024-04-11T25:00:00Z",
            "2024-04-11T12:00:00",
        ] {
            assert_eq!(at(bad), None, "{bad}");
        }
    }

    #[test]
    fn days_that_do_not_exist_are_refused_not_rolled_over() {
        let at = |text| Timestamp::parse_rfc3339(text).map(Timestamp::rfc3339);
        // A hand-written day count would turn these into 2 March, 1 May and 1 March.
        for bad in [
            "2024-02-31",
            "2024-04-31T00:00:00Z",
            "2023-02-29",
            "2024-02-30T12:00:00.000Z",
        ] {
            assert_eq!(at(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_pinned_clock_stands_still_until_advanced() {
        let clock = Clock::default();
        let start = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        clock.set(start);
        assert_eq!(clock.now().to_system(), start);
        clock.advance(Duration::from_secs(90));
        assert_eq!(clock.now().unix_seconds(), 1_700_000_090);
    }

    #[test]
    fn a_running_clock_can_be_advanced() {
        let clock = Clock::default();
        let before = clock.now();
        clock.advance(Duration::from_secs(3600));
        assert!(clock.now().unix_seconds() >= before.unix_seconds() + 3600);
    }
}
