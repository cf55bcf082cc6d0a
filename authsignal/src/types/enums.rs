//! The wire enums of the Server API, each open-ended (see [`open_enum`](super::open_enum)).

use super::open_enum::open_enum;

open_enum! {
    /// The state of a tracked action.
    ///
    /// ```
    /// use authsignal::types::UserActionState;
    /// let state: UserActionState = serde_json::from_str("\"CHALLENGE_REQUIRED\"").unwrap();
    /// assert_eq!(state, UserActionState::ChallengeRequired);
    /// // A state this version does not know still decodes.
    /// let new: UserActionState = serde_json::from_str("\"SOMETHING_NEW\"").unwrap();
    /// assert_eq!(new, UserActionState::Other("SOMETHING_NEW".into()));
    /// ```
    pub enum UserActionState {
        /// The action may go ahead.
        Allow => "ALLOW",
        /// The action must be refused.
        Block => "BLOCK",
        /// The user must complete a challenge first.
        ChallengeRequired => "CHALLENGE_REQUIRED",
        /// The user completed the challenge.
        ChallengeSucceeded => "CHALLENGE_SUCCEEDED",
        /// The user failed the challenge.
        ChallengeFailed => "CHALLENGE_FAILED",
        /// The action waits for a manual review.
        ReviewRequired => "REVIEW_REQUIRED",
        /// A reviewer approved the action.
        ReviewSucceeded => "REVIEW_SUCCEEDED",
        /// A reviewer rejected the action.
        ReviewFailed => "REVIEW_FAILED",
    }
}

open_enum! {
    /// A way of verifying a user.
    pub enum VerificationMethod {
        /// A one-time code by SMS.
        Sms => "SMS",
        /// A one-time code by email.
        EmailOtp => "EMAIL_OTP",
        /// A magic link by email.
        EmailMagicLink => "EMAIL_MAGIC_LINK",
        /// A TOTP authenticator app.
        AuthenticatorApp => "AUTHENTICATOR_APP",
        /// A passkey.
        Passkey => "PASSKEY",
        /// A hardware security key.
        SecurityKey => "SECURITY_KEY",
        /// A push notification.
        Push => "PUSH",
        /// Identity verification by Veriff.
        Veriff => "VERIFF",
        /// Face verification by iProov.
        Iproov => "IPROOV",
        /// Identity verification by IDVerse.
        Idverse => "IDVERSE",
        /// Palm biometrics.
        PalmBiometricsRr => "PALM_BIOMETRICS_RR",
        /// A recovery code.
        RecoveryCode => "RECOVERY_CODE",
        /// A trusted device credential.
        Device => "DEVICE",
        /// A one-time code by WhatsApp.
        Whatsapp => "WHATSAPP",
    }
}

open_enum! {
    /// The channel an SMS challenge goes out on.
    pub enum SmsChannel {
        /// WhatsApp.
        Whatsapp => "WHATSAPP",
        /// The tenant's default SMS channel.
        Default => "DEFAULT",
    }
}

open_enum! {
    /// Why a one-time code was not accepted.
    pub enum VerificationFailureReason {
        /// The code is wrong or has expired.
        CodeInvalidOrExpired => "CODE_INVALID_OR_EXPIRED",
        /// Too many wrong codes were tried.
        MaxAttemptsExceeded => "MAX_ATTEMPTS_EXCEEDED",
    }
}
