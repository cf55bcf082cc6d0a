//! Naming and recording the requests the emulator receives.
//!
//! Every request is named by the operation it calls, with the names the client uses
//! (`track`, `validateChallenge`, `getUser`, ...), before routing: faults are looked up by
//! that name, and [`calls`](super::EmulatorHandle::calls) lets a test assert that a call
//! was (or was not) made.

use http::Method;

use super::webhooks::WebhookAttempt;

/// One request the emulator received.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RecordedCall {
    /// The operation, as the client names it (`track`, `validateChallenge`, ...), or
    /// `clientEnrollTotp`, `clientVerifyTotp`, `clientEnrollEmailOtp`,
    /// `clientChallengeEmailOtp`, `clientVerifyEmailOtp`, `clientEnrollSms`,
    /// `clientChallengeSms`, `clientVerifySms`, `clientChallengeWhatsapp`,
    /// `clientVerifyWhatsapp`, `clientEnrollEmailMagicLink`, `clientChallengeEmailMagicLink`,
    /// `clientFinalizeEmailMagicLink`, `clientChallengePush`, `clientVerifyPush`,
    /// `clientGetAuthenticators`, `clientPasskeyRegistrationOptions`, `clientAddPasskey`,
    /// `clientPasskeyAuthenticationOptions`, `clientVerifyPasskey`, `clientChallenge` (a
    /// sign-in without a token), `clientGetPasskey`, the same four for `SecurityKey`,
    /// `emulatorOutbox`, `emulatorFaults`, `emulatorLatency`, `emulatorEnrollPush`,
    /// `emulatorPendingPushes`, `emulatorAnswerPush`, `uiChallenge`, `uiSubmit`, `uiSend`,
    /// `uiPasskey`, `uiMagicLink`, `jwks`, `unknown` (CORS preflights
    /// among them); or `webhookDelivery` for an attempt to deliver a webhook (a request
    /// the emulator sent, not received).
    pub operation: &'static str,
    /// The HTTP method.
    pub method: Method,
    /// The path as received (still percent-encoded), without the query string, which may
    /// hold a token. For a webhook delivery, the path of the URL it was sent to.
    pub path: String,
    /// For a webhook delivery (operation `webhookDelivery`), what was sent and what came of
    /// it; `None` for every request the emulator received.
    pub webhook: Option<WebhookAttempt>,
}

/// The operation a request calls.
pub(crate) fn operation(method: &Method, path: &str) -> &'static str {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let Some(rest) = segments.strip_prefix(&["v1"]) else {
        return match (method, segments.as_slice()) {
            (&Method::GET, ["ui", "challenge"]) => "uiChallenge",
            (&Method::POST, ["ui", "challenge"]) => "uiSubmit",
            (&Method::POST, ["ui", "challenge", "send"]) => "uiSend",
            (&Method::GET, ["ui", "magic-link"]) => "uiMagicLink",
            (&Method::POST, ["ui", "challenge", "passkey"]) => "uiPasskey",
            _ => "unknown",
        };
    };
    match (method, rest) {
        (&Method::GET, ["users"]) => "queryUsers",
        (&Method::POST, ["users", "authenticators"]) => "batchEnrollVerifiedAuthenticators",
        (&Method::GET, ["users", _]) => "getUser",
        (&Method::PATCH, ["users", _]) => "updateUser",
        (&Method::DELETE, ["users", _]) => "deleteUser",
        (&Method::GET, ["users", _, "authenticators"]) => "getAuthenticators",
        (&Method::POST, ["users", _, "authenticators"]) => "enrollVerifiedAuthenticator",
        (&Method::DELETE, ["users", _, "authenticators", _]) => "deleteAuthenticator",
        (&Method::GET, ["users", _, "devices"]) => "getDevices",
        (&Method::PATCH, ["users", _, "devices", _]) => "updateDevice",
        (&Method::POST, ["users", _, "devices", _, "invalidate"]) => "invalidateDevice",
        (&Method::GET, ["users", _, "actions"]) => "queryUserActions",
        (&Method::POST, ["users", _, "actions", _]) => "track",
        (&Method::GET, ["users", _, "actions", _, _]) => "getAction",
        (&Method::PATCH, ["users", _, "actions", _, _]) => "updateAction",
        (&Method::POST, ["validate"]) => "validateChallenge",
        (&Method::POST, ["claim"]) => "claimChallenge",
        (&Method::POST, ["challenge"]) => "challenge",
        (&Method::POST, ["verify"]) => "verify",
        (&Method::GET, ["challenges"]) => "getChallenge",
        (&Method::POST, ["sessions"]) => "createSession",
        (&Method::POST, ["sessions", "validate"]) => "validateSession",
        (&Method::POST, ["sessions", "refresh"]) => "refreshSession",
        (&Method::POST, ["sessions", "revoke"]) => "revokeSession",
        (&Method::POST, ["sessions", "user", "revoke"]) => "revokeUserSessions",
        (&Method::POST, ["client", "verify", "totp"]) => "clientVerifyTotp",
        (&Method::POST, ["client", "user-authenticators", "totp"]) => "clientEnrollTotp",
        (&Method::POST, ["client", "user-authenticators", "email-otp"]) => "clientEnrollEmailOtp",
        (&Method::POST, ["client", "challenge", "email-otp"]) => "clientChallengeEmailOtp",
        (&Method::POST, ["client", "verify", "email-otp"]) => "clientVerifyEmailOtp",
        (&Method::POST, ["client", "user-authenticators", "sms"]) => "clientEnrollSms",
        (&Method::POST, ["client", "challenge", "sms"]) => "clientChallengeSms",
        (&Method::POST, ["client", "verify", "sms"]) => "clientVerifySms",
        (&Method::GET, ["client", "public", _, ".well-known", "jwks"]) => "jwks",
        (&Method::POST, ["client", "challenge", "whatsapp"]) => "clientChallengeWhatsapp",
        (&Method::POST, ["client", "verify", "whatsapp"]) => "clientVerifyWhatsapp",
        (&Method::POST, ["client", "user-authenticators", "email-magic-link"]) => {
            "clientEnrollEmailMagicLink"
        }
        (&Method::POST, ["client", "challenge", "email-magic-link"]) => {
            "clientChallengeEmailMagicLink"
        }
        (&Method::POST, ["client", "verify", "email-magic-link", "finalize"]) => {
            "clientFinalizeEmailMagicLink"
        }
        (&Method::POST, ["client", "challenge", "push"]) => "clientChallengePush",
        (&Method::POST, ["client", "verify", "push"]) => "clientVerifyPush",
        (&Method::POST, ["emulator", "push-authenticators"]) => "emulatorEnrollPush",
        (&Method::GET, ["emulator", "push"]) => "emulatorPendingPushes",
        (&Method::POST, ["emulator", "push", _]) => "emulatorAnswerPush",
        (&Method::GET, ["client", "user-authenticators"]) => "clientGetAuthenticators",
        (
            &Method::POST,
            [
                "client",
                "user-authenticators",
                "passkey",
                "registration-options",
            ],
        ) => "clientPasskeyRegistrationOptions",
        (&Method::POST, ["client", "user-authenticators", "passkey"]) => "clientAddPasskey",
        (
            &Method::POST,
            [
                "client",
                "user-authenticators",
                "passkey",
                "authentication-options",
            ],
        ) => "clientPasskeyAuthenticationOptions",
        (&Method::POST, ["client", "verify", "passkey"]) => "clientVerifyPasskey",
        (&Method::POST, ["client", "challenge"]) => "clientChallenge",
        (&Method::GET, ["client", "user-authenticators", "passkey"]) => "clientGetPasskey",
        (
            &Method::POST,
            [
                "client",
                "user-authenticators",
                "security-key",
                "registration-options",
            ],
        ) => "clientSecurityKeyRegistrationOptions",
        (&Method::POST, ["client", "user-authenticators", "security-key"]) => {
            "clientAddSecurityKey"
        }
        (
            &Method::POST,
            [
                "client",
                "user-authenticators",
                "security-key",
                "authentication-options",
            ],
        ) => "clientSecurityKeyAuthenticationOptions",
        (&Method::POST, ["client", "verify", "security-key"]) => "clientVerifySecurityKey",
        (&Method::GET, ["emulator", "outbox"]) => "emulatorOutbox",
        (&Method::POST | &Method::DELETE, ["emulator", "faults"]) => "emulatorFaults",
        (&Method::PUT | &Method::DELETE, ["emulator", "latency"]) => "emulatorLatency",
        (&Method::GET | &Method::POST, ["emulator", "reviews"]) => "emulatorReviews",
        _ => "unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_operation_has_its_client_name() {
        for (method, path, name) in [
            (Method::GET, "/v1/users", "queryUsers"),
            (Method::GET, "/v1/users/123%3Atest", "getUser"),
            (Method::PATCH, "/v1/users/u", "updateUser"),
            (Method::DELETE, "/v1/users/u", "deleteUser"),
            (
                Method::GET,
                "/v1/users/u/authenticators",
                "getAuthenticators",
            ),
            (
                Method::POST,
                "/v1/users/u/authenticators",
                "enrollVerifiedAuthenticator",
            ),
            (
                Method::DELETE,
                "/v1/users/u/authenticators/a",
                "deleteAuthenticator",
            ),
            (
                Method::POST,
                "/v1/users/authenticators",
                "batchEnrollVerifiedAuthenticators",
            ),
            (Method::GET, "/v1/users/authenticators", "getUser"),
            (Method::GET, "/v1/users/u/devices", "getDevices"),
            (Method::PATCH, "/v1/users/u/devices/d", "updateDevice"),
            (
                Method::POST,
                "/v1/users/u/devices/d/invalidate",
                "invalidateDevice",
            ),
            (Method::GET, "/v1/users/u/actions", "queryUserActions"),
            (Method::POST, "/v1/users/u/actions/withdraw", "track"),
            (Method::GET, "/v1/users/u/actions/withdraw/k", "getAction"),
            (
                Method::PATCH,
                "/v1/users/u/actions/withdraw/k",
                "updateAction",
            ),
            (Method::POST, "/v1/validate", "validateChallenge"),
            (Method::POST, "/v1/claim", "claimChallenge"),
            (Method::POST, "/v1/challenge", "challenge"),
            (Method::POST, "/v1/verify", "verify"),
            (Method::GET, "/v1/challenges", "getChallenge"),
            (Method::POST, "/v1/sessions", "createSession"),
            (Method::POST, "/v1/sessions/validate", "validateSession"),
            (Method::POST, "/v1/sessions/refresh", "refreshSession"),
            (Method::POST, "/v1/sessions/revoke", "revokeSession"),
            (
                Method::POST,
                "/v1/sessions/user/revoke",
                "revokeUserSessions",
            ),
            (Method::POST, "/v1/client/verify/totp", "clientVerifyTotp"),
            (
                Method::POST,
                "/v1/client/user-authenticators/totp",
                "clientEnrollTotp",
            ),
            (
                Method::POST,
                "/v1/client/user-authenticators/email-otp",
                "clientEnrollEmailOtp",
            ),
            (
                Method::POST,
                "/v1/client/challenge/email-otp",
                "clientChallengeEmailOtp",
            ),
            (
                Method::POST,
                "/v1/client/verify/email-otp",
                "clientVerifyEmailOtp",
            ),
            (
                Method::POST,
                "/v1/client/user-authenticators/sms",
                "clientEnrollSms",
            ),
            (
                Method::POST,
                "/v1/client/challenge/sms",
                "clientChallengeSms",
            ),
            (Method::POST, "/v1/client/verify/sms", "clientVerifySms"),
            (Method::GET, "/v1/client/public/t/.well-known/jwks", "jwks"),
            (
                Method::GET,
                "/v1/client/user-authenticators",
                "clientGetAuthenticators",
            ),
            (
                Method::POST,
                "/v1/client/user-authenticators/passkey/registration-options",
                "clientPasskeyRegistrationOptions",
            ),
            (
                Method::POST,
                "/v1/client/user-authenticators/passkey",
                "clientAddPasskey",
            ),
            (
                Method::POST,
                "/v1/client/user-authenticators/passkey/authentication-options",
                "clientPasskeyAuthenticationOptions",
            ),
            (
                Method::POST,
                "/v1/client/verify/passkey",
                "clientVerifyPasskey",
            ),
            (Method::POST, "/v1/client/challenge", "clientChallenge"),
            (
                Method::GET,
                "/v1/client/user-authenticators/passkey",
                "clientGetPasskey",
            ),
            (
                Method::POST,
                "/v1/client/user-authenticators/security-key/registration-options",
                "clientSecurityKeyRegistrationOptions",
            ),
            (
                Method::POST,
                "/v1/client/user-authenticators/security-key",
                "clientAddSecurityKey",
            ),
            (
                Method::POST,
                "/v1/client/user-authenticators/security-key/authentication-options",
                "clientSecurityKeyAuthenticationOptions",
            ),
            (
                Method::POST,
                "/v1/client/verify/security-key",
                "clientVerifySecurityKey",
            ),
            (Method::OPTIONS, "/v1/client/verify/sms", "unknown"),
            (Method::GET, "/v1/emulator/outbox", "emulatorOutbox"),
            (Method::GET, "/v1/emulator/reviews", "emulatorReviews"),
            (Method::POST, "/v1/emulator/reviews", "emulatorReviews"),
            (Method::POST, "/v1/emulator/faults", "emulatorFaults"),
            (Method::DELETE, "/v1/emulator/faults", "emulatorFaults"),
            (Method::PUT, "/v1/emulator/latency", "emulatorLatency"),
            (Method::DELETE, "/v1/emulator/latency", "emulatorLatency"),
            (
                Method::POST,
                "/v1/client/challenge/whatsapp",
                "clientChallengeWhatsapp",
            ),
            (
                Method::POST,
                "/v1/client/verify/whatsapp",
                "clientVerifyWhatsapp",
            ),
            (
                Method::POST,
                "/v1/client/user-authenticators/email-magic-link",
                "clientEnrollEmailMagicLink",
            ),
            (
                Method::POST,
                "/v1/client/challenge/email-magic-link",
                "clientChallengeEmailMagicLink",
            ),
            (
                Method::POST,
                "/v1/client/verify/email-magic-link/finalize",
                "clientFinalizeEmailMagicLink",
            ),
            (
                Method::POST,
                "/v1/client/challenge/push",
                "clientChallengePush",
            ),
            (Method::POST, "/v1/client/verify/push", "clientVerifyPush"),
            (
                Method::POST,
                "/v1/emulator/push-authenticators",
                "emulatorEnrollPush",
            ),
            (Method::GET, "/v1/emulator/push", "emulatorPendingPushes"),
            (Method::POST, "/v1/emulator/push/abc", "emulatorAnswerPush"),
            (Method::GET, "/ui/magic-link", "uiMagicLink"),
            (Method::GET, "/ui/challenge", "uiChallenge"),
            (Method::POST, "/ui/challenge", "uiSubmit"),
            (Method::POST, "/ui/challenge/send", "uiSend"),
            (Method::POST, "/ui/challenge/passkey", "uiPasskey"),
            (Method::PUT, "/v1/validate", "unknown"),
            (Method::GET, "/elsewhere", "unknown"),
        ] {
            assert_eq!(operation(&method, path), name, "{method} {path}");
        }
    }
}
