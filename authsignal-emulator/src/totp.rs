//! Authenticator-app codes (TOTP, RFC 6238: SHA-1, 6 digits, 30-second steps) on the
//! emulator's clock, and the `otpauth://` URI an app scans.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use totp_rs::{Algorithm, Builder, Secret, Totp};

use super::clock::Timestamp;

/// The issuer an authenticator app shows next to the account.
pub(crate) const ISSUER: &str = "Authsignal Emulator";

/// A user's authenticator app as enrolled in the emulator.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TotpEnrollment {
    /// The user.
    pub user_id: String,
    /// The authenticator's id (as `getAuthenticators` lists it).
    pub user_authenticator_id: String,
    /// The shared secret, base32 as apps take it.
    pub secret: String,
    /// The `otpauth://totp/...` URI an app scans.
    pub uri: String,
}

impl TotpEnrollment {
    /// The [`uri`](Self::uri) as a QR code for a terminal: lines of `█ ▀ ▄` and spaces,
    /// drawn for light text on a dark background, for a person to scan with the phone they
    /// enroll.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let emulator = authsignal_emulator::Emulator::start().await.unwrap();
    /// let enrollment = emulator.enroll_totp("user-1");
    /// println!("Scan this with your authenticator app:\n{}", enrollment.qr_code_text());
    /// assert!(enrollment.qr_code_text().contains('█'));
    /// # }
    /// ```
    pub fn qr_code_text(&self) -> String {
        super::qr::terminal(&self.uri).unwrap_or_default()
    }

    /// The [`uri`](Self::uri) as a QR code: an inline `<svg>` element for a web page (the
    /// pre-built UI shows it beside the secret).
    pub fn qr_code_svg(&self) -> String {
        super::qr::svg(&self.uri).unwrap_or_default()
    }
}

impl std::fmt::Debug for TotpEnrollment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The secret generates every future code: keep it out of test logs.
        f.debug_struct("TotpEnrollment")
            .field("user_id", &self.user_id)
            .field("user_authenticator_id", &self.user_authenticator_id)
            .field("secret", &"[redacted]")
            .finish_non_exhaustive()
    }
}

/// A fresh 160-bit secret (the size RFC 4226 recommends), every bit from the OS.
pub(crate) fn new_secret() -> Vec<u8> {
    super::random::bytes::<20>().to_vec()
}

fn totp(secret: &[u8]) -> Option<Totp> {
    Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_digits(6)
        .with_skew(1)
        .with_step_duration(30)
        .with_secret(secret.to_vec())
        .build()
        .ok()
}

/// The code an app shows at `at`.
pub(crate) fn code_at(secret: &[u8], at: Timestamp) -> Option<String> {
    totp(secret).map(|totp| totp.generate(at.unix_seconds()).to_string())
}

/// Whether `code` is right at `at`, one step either side allowed for clock drift.
pub(crate) fn check(secret: &[u8], code: &str, at: Timestamp) -> bool {
    let code = code.trim();
    code.len() == 6
        && code.bytes().all(|b| b.is_ascii_digit())
        && totp(secret).is_some_and(|totp| totp.check(code, at.unix_seconds()).is_some())
}

/// The base32 form of a secret.
pub(crate) fn base32(secret: &[u8]) -> String {
    Secret::from(secret.to_vec()).to_base32()
}

/// Everything but unreserved characters is escaped in the label and the issuer.
const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// `otpauth://totp/<issuer>:<account>?secret=..&issuer=..&algorithm=SHA1&digits=6&period=30`.
///
/// Written here rather than by totp-rs, whose URI builder refuses account names with a
/// colon, and user ids such as `123:test` have one; escaped, the colon is harmless.
pub(crate) fn otpauth_uri(account: &str, secret: &[u8]) -> String {
    let issuer = utf8_percent_encode(ISSUER, COMPONENT).to_string();
    let account = utf8_percent_encode(account, COMPONENT);
    format!(
        "otpauth://totp/{issuer}:{account}?secret={}&issuer={issuer}&algorithm=SHA1&digits=6&period=30",
        base32(secret)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_match_rfc_6238_and_allow_one_step_of_drift() {
        // RFC 6238 appendix B, SHA-1 secret "12345678901234567890", T = 59 s: 94287082 (8
        // digits); its last 6 digits are the 6-digit code.
        let secret = b"12345678901234567890";
        let at = Timestamp::from_system(std::time::UNIX_EPOCH + std::time::Duration::from_secs(59));
        assert_eq!(code_at(secret, at).as_deref(), Some("287082"));
        assert!(check(secret, "287082", at));
        assert!(check(
            secret,
            "287082",
            at.plus(std::time::Duration::from_secs(30))
        ));
        assert!(!check(
            secret,
            "287082",
            at.plus(std::time::Duration::from_secs(90))
        ));
        assert!(!check(secret, "28708", at));
        assert!(!check(secret, "abcdef", at));
    }

    #[test]
    fn the_uri_escapes_the_account() {
        let uri = otpauth_uri("123:test", b"12345678901234567890");
        assert!(
            uri.starts_with("otpauth://totp/Authsignal%20Emulator:123%3Atest?secret="),
            "{uri}"
        );
        assert!(
            uri.contains("secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&"),
            "{uri}"
        );
        assert_eq!(new_secret().len(), 20);
    }
}
