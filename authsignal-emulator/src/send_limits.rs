//! [`SendLimits`]: how many codes and links one user may be sent per channel, as
//! Authsignal limits them to deter abuse ("12 per 10 mins" for email, "6 per 10 mins" for
//! SMS, in its FAQ).

use std::time::Duration;

use serde::{Deserialize, Serialize};

use authsignal::types::VerificationMethod;

/// At most `sends` messages in any `window_seconds`.
///
/// ```
/// use std::time::Duration;
/// use authsignal_emulator::SendLimit;
///
/// let limit = SendLimit::new(6, Duration::from_secs(600));
/// assert_eq!((limit.sends, limit.window()), (6, Duration::from_secs(600)));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[non_exhaustive]
pub struct SendLimit {
    /// How many sends the window holds; the next one is refused.
    pub sends: u32,
    /// The sliding window, in seconds, by the emulator's clock.
    pub window_seconds: u64,
}

impl SendLimit {
    /// `sends` in any `window`.
    pub fn new(sends: u32, window: Duration) -> Self {
        Self {
            sends,
            window_seconds: window.as_secs(),
        }
    }

    /// The window.
    pub fn window(&self) -> Duration {
        Duration::from_secs(self.window_seconds)
    }
}

const TEN_MINUTES: u64 = 600;

fn twelve_per_ten_minutes() -> SendLimit {
    SendLimit {
        sends: 12,
        window_seconds: TEN_MINUTES,
    }
}

fn six_per_ten_minutes() -> SendLimit {
    SendLimit {
        sends: 6,
        window_seconds: TEN_MINUTES,
    }
}

/// The send limit of each channel, per user (or, for a Server API `challenge` naming no
/// user, per address). A send past it is refused with 429 `too_many_requests`, on the
/// client API, the Server API's `challenge` and the pre-built UI alike.
///
/// Every send asked for counts, one its synchronous webhook then refused too (assumed: it
/// reached the app's provider all the same).
///
/// The defaults are Authsignal's documented ones (FAQ, "Rate limits for sending"): email
/// OTP and email magic link 12 per 10 minutes, SMS 6 per 10 minutes. WhatsApp is not in
/// that table: the emulator assumes SMS's limit for it.
///
/// ```
/// use authsignal_emulator::EmulatorConfig;
///
/// let config = EmulatorConfig::from_json(
///     r#"{"sendLimits": {"sms": {"sends": 2, "windowSeconds": 60}}}"#,
/// ).unwrap();
/// assert_eq!(config.send_limits.sms.sends, 2);
/// assert_eq!(config.send_limits.email_otp.sends, 12);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[non_exhaustive]
pub struct SendLimits {
    /// Email one-time codes: 12 per 10 minutes by default.
    #[serde(default = "twelve_per_ten_minutes")]
    pub email_otp: SendLimit,
    /// Email magic links: 12 per 10 minutes by default.
    #[serde(default = "twelve_per_ten_minutes")]
    pub email_magic_link: SendLimit,
    /// SMS codes: 6 per 10 minutes by default.
    #[serde(default = "six_per_ten_minutes")]
    pub sms: SendLimit,
    /// WhatsApp codes: 6 per 10 minutes by default (assumed, as SMS).
    #[serde(default = "six_per_ten_minutes")]
    pub whatsapp: SendLimit,
}

impl Default for SendLimits {
    fn default() -> Self {
        Self {
            email_otp: twelve_per_ten_minutes(),
            email_magic_link: twelve_per_ten_minutes(),
            sms: six_per_ten_minutes(),
            whatsapp: six_per_ten_minutes(),
        }
    }
}

impl SendLimits {
    /// The limit of `method`'s sends; `None` for a method that sends nothing limited.
    pub(crate) fn of(&self, method: &VerificationMethod) -> Option<SendLimit> {
        match method {
            VerificationMethod::EmailOtp => Some(self.email_otp),
            VerificationMethod::EmailMagicLink => Some(self.email_magic_link),
            VerificationMethod::Sms => Some(self.sms),
            VerificationMethod::Whatsapp => Some(self.whatsapp),
            _ => None,
        }
    }
}
