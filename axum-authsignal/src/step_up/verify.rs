//! Validating a returned token: the checks every leg shares.

use http::StatusCode;
use http::request::Parts;
use tokio::time::Instant;

use super::answer::Refusal;
use super::settings::ConfigSettings;
use super::{telemetry, token};
use authsignal::types::{UserActionState, ValidateChallengeRequest, ValidateChallengeResponse};
use authsignal::{Authsignal, Error};

/// Validates `token` for `action` (and `user_id`, unless `None` for sign-in) with the
/// configuration's client, timed and counted; a refusal's reason goes to the log, and the
/// answer is the one refusal every failed check shares (or a 503 when Authsignal could not
/// say).
pub(crate) async fn validate(
    config: &ConfigSettings,
    token: &str,
    user_id: Option<&str>,
    action: &str,
) -> Result<Validated, Refusal> {
    let started = Instant::now();
    let result = ask_authsignal(config.client(), token, user_id, action).await;
    telemetry::authsignal_call("validateChallenge", started);
    result.map_err(|rejected| match rejected {
        Rejected::Unavailable(reason) => {
            telemetry::outcome(action, "unavailable", Some(&reason));
            Refusal::Unavailable {
                retry_after: config.retry_after(),
            }
        }
        Rejected::Invalid(reason) => {
            telemetry::outcome(action, "refused", Some(reason));
            Refusal::VerificationFailed
        }
    })
}

/// The token an extractor is given, in the configured header or (on a `GET`) the query.
pub(crate) fn given_token(config: &ConfigSettings, parts: &Parts) -> Result<String, Refusal> {
    match token::find(parts, config.token_header()) {
        Ok(Some(found)) => Ok(found.into_string()),
        Ok(None) => Err(Refusal::TokenRequired),
        Err(_) => Err(Refusal::MalformedToken),
    }
}

/// A token that Authsignal confirmed for the expected user and action.
pub(crate) struct Validated {
    pub(crate) response: ValidateChallengeResponse,
    pub(crate) user_id: String,
    pub(crate) idempotency_key: String,
}

/// Why a token does not open the gate.
enum Rejected {
    /// Authsignal could not be asked, or answered something this crate cannot read: the
    /// gate stays shut with a 503. The reason is for the logs only.
    Unavailable(String),
    /// Authsignal answered, and the answer is no; the reason is for the logs only.
    Invalid(&'static str),
}

impl From<Error> for Rejected {
    fn from(err: Error) -> Self {
        // A 400 to `validateChallenge` is Authsignal refusing the token itself (a forged or
        // expired one may be answered 400 `invalid_request` rather than 200 `isValid:
        // false`): the same "no" as the 200, a 403, so that a client does not retry a bad
        // token on a 503's `Retry-After`. The request is otherwise ours alone (the token is
        // checked for shape before it is sent), so any other 4xx (401, 403: a wrong key or
        // region) is this app's fault, not the caller's: 503.
        if err.status() == Some(StatusCode::BAD_REQUEST) {
            return Rejected::Invalid("Authsignal refused the token (400)");
        }
        // An answer naming two different actions does not say the token is for this one:
        // refused like a token for another action, not retried like an outage.
        if let Error::Contradictory { reason, .. } = err {
            return Rejected::Invalid(reason);
        }
        Rejected::Unavailable(err.to_string())
    }
}

/// Asks Authsignal about `token` and accepts it only if it is valid, its state is
/// `CHALLENGE_SUCCEEDED`, and the user (when one is expected) and the action are the ones
/// expected. With `user_id: None` (sign-in) the user is taken from the answer.
async fn ask_authsignal(
    client: &Authsignal,
    token: &str,
    user_id: Option<&str>,
    action: &str,
) -> Result<Validated, Rejected> {
    let request = ValidateChallengeRequest {
        token: token.into(),
        user_id: user_id.map(str::to_owned),
        action: Some(action.to_owned()),
    };
    let response = client.validate_challenge(&request).await?;
    // A state this crate does not know is not a "no": it is an answer it cannot read, so
    // the gate stays shut as it does for an outage (503), without blaming the token.
    if let Some(UserActionState::Other(state)) = &response.state {
        return Err(Rejected::Unavailable(format!("unexpected state {state}")));
    }
    if !response.is_valid {
        return Err(Rejected::Invalid("Authsignal says the token is not valid"));
    }
    if response.state != Some(UserActionState::ChallengeSucceeded) {
        return Err(Rejected::Invalid("the challenge did not succeed"));
    }
    let Some(returned_user) = response.user_id.clone() else {
        return Err(Rejected::Invalid("the answer names no user"));
    };
    if user_id.is_some_and(|expected| expected != returned_user) {
        return Err(Rejected::Invalid("the token belongs to another user"));
    }
    if response.action.as_deref() != Some(action) {
        return Err(Rejected::Invalid("the token is for another action"));
    }
    let Some(idempotency_key) = response.idempotency_key.clone() else {
        return Err(Rejected::Invalid("the answer names no idempotency key"));
    };
    Ok(Validated {
        response,
        user_id: returned_user,
        idempotency_key,
    })
}
