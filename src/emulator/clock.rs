//! The emulator's own clock, and the timestamps it writes.
//!
//! Token expiry, TOTP windows and one-time-code expiry all read this clock instead of the
//! system's, so that a test can jump ten minutes ahead instead of waiting ten minutes.
//! It runs with the system clock until [`Clock::set`] pins it; [`Clock::advance`] moves it
//! either way.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

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
        let millis = self.0 % 1000;
        let seconds = self.0 / 1000;
        let (days, time_of_day) = (seconds / 86_400, seconds % 86_400);
        let (year, month, day) = civil_from_days(days as i64);
        format!(
            "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{millis:03}Z",
            time_of_day / 3600,
            time_of_day / 60 % 60,
            time_of_day % 60
        )
    }

    /// Reads `YYYY-MM-DD`, or `YYYY-MM-DDTHH:MM:SS[.fff](Z|±HH:MM)`.
    pub(crate) fn parse_rfc3339(text: &str) -> Option<Self> {
        let text = text.trim();
        let date = text.get(..10)?;
        let rest = &text[10..];
        let mut parts = date.split('-');
        let year: i64 = parts.next()?.parse().ok()?;
        let month: u32 = parts.next()?.parse().ok()?;
        let day: u32 = parts.next()?.parse().ok()?;
        if !(1..=12).contains(&month) || !(1..=31).contains(&day) || parts.next().is_some() {
            return None;
        }
        let days = days_from_civil(year, month, day);
        let mut millis: i64 = 0;
        let mut offset_seconds: i64 = 0;
        if !rest.is_empty() {
            let rest = rest.strip_prefix(['T', 't', ' '])?;
            let hms = rest.get(..8)?;
            let mut fields = hms.split(':');
            let hour: i64 = fields.next()?.parse().ok()?;
            let minute: i64 = fields.next()?.parse().ok()?;
            let second: i64 = fields.next()?.parse().ok()?;
            if hour > 23 || minute > 59 || second > 60 {
                return None;
            }
            millis = (hour * 3600 + minute * 60 + second) * 1000;
            let mut zone = &rest[8..];
            if let Some(fraction) = zone.strip_prefix('.') {
                let digits = fraction.len()
                    - fraction
                        .trim_start_matches(|c: char| c.is_ascii_digit())
                        .len();
                if digits == 0 {
                    return None;
                }
                let padded = format!("{:0<3}", &fraction[..digits.min(3)]);
                millis += padded.parse::<i64>().ok()?;
                zone = &fraction[digits..];
            }
            offset_seconds = match zone {
                "Z" | "z" => 0,
                _ => {
                    let sign = match zone.get(..1)? {
                        "+" => 1,
                        "-" => -1,
                        _ => return None,
                    };
                    let (hours, minutes) = zone.get(1..)?.split_once(':')?;
                    sign * (hours.parse::<i64>().ok()? * 3600 + minutes.parse::<i64>().ok()? * 60)
                }
            };
        }
        let total = days * 86_400_000 + millis - offset_seconds * 1000;
        u64::try_from(total).ok().map(Self)
    }
}

/// Days since 1970-01-01 to (year, month, day), after Howard Hinnant's `civil_from_days`.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// (year, month, day) to days since 1970-01-01, after Howard Hinnant's `days_from_civil`.
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let yoe = year.rem_euclid(400);
    let month = i64::from(month);
    let mp = if month > 2 { month - 3 } else { month + 9 };
    let doy = (153 * mp + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
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
