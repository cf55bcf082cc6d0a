//! The 25 operations of the Server API, one method each.
//!
//! Each method names its path, its body and whether it may be repeated; sending, retrying
//! and decoding are [`Authsignal::send`]'s job.

use bytes::Bytes;
use http::Method;
use serde::Serialize;
use serde::de::IgnoredAny;

use super::path::UrlBuilder;
use super::retry::Repeatable;
use super::transport::Call;
use super::types::*;
use super::{Authsignal, Error, Result};

impl Authsignal {
    fn url(&self, operation: &'static str) -> UrlBuilder {
        UrlBuilder::new(&self.inner.base_url, operation)
    }

    /// `/users/{userId}`, the root of most paths.
    fn user_url(&self, operation: &'static str, user_id: &str) -> Result<UrlBuilder> {
        self.url(operation)
            .literal("users")
            .value("userId", user_id)
    }

    async fn get<T: serde::de::DeserializeOwned>(
        &self,
        operation: &'static str,
        url: reqwest::Url,
    ) -> Result<T> {
        self.send(Call {
            operation,
            method: Method::GET,
            url,
            body: None,
            repeatable: Repeatable::Yes,
        })
        .await
    }

    /// A write: sent with a JSON body (if any), retried only if it was never sent,
    /// unless `repeatable` says the server de-duplicates it.
    async fn write<T: serde::de::DeserializeOwned>(
        &self,
        operation: &'static str,
        method: Method,
        url: reqwest::Url,
        body: Option<&impl Serialize>,
        repeatable: Repeatable,
    ) -> Result<T> {
        let body = body
            .map(|body| serde_json::to_vec(body).map(Bytes::from))
            .transpose()
            .map_err(|_| Error::InvalidArgument {
                operation,
                reason: "the request body could not be encoded as JSON",
            })?;
        self.send(Call {
            operation,
            method,
            url,
            body,
            repeatable,
        })
        .await
    }

    async fn post<T: serde::de::DeserializeOwned>(
        &self,
        operation: &'static str,
        url: reqwest::Url,
        body: &impl Serialize,
    ) -> Result<T> {
        self.write(
            operation,
            Method::POST,
            url,
            Some(body),
            Repeatable::OnlyIfNotSent,
        )
        .await
    }

    /// A `PATCH` with a JSON body, retried only if it was never sent.
    async fn patch<T: serde::de::DeserializeOwned>(
        &self,
        operation: &'static str,
        url: reqwest::Url,
        body: &impl Serialize,
    ) -> Result<T> {
        self.write(
            operation,
            Method::PATCH,
            url,
            Some(body),
            Repeatable::OnlyIfNotSent,
        )
        .await
    }

    // ---- users -------------------------------------------------------------------------

    /// `getUser`: a user's enrollment and attributes. An unknown user is not an error: it
    /// comes back with `is_enrolled == false`.
    pub async fn get_user(&self, user_id: &str) -> Result<User> {
        const OP: &str = "getUser";
        let url = self.user_url(OP, user_id)?.finish()?;
        self.get(OP, url).await
    }

    /// `queryUsers`: users by username, email, phone number or token. Only the criteria that
    /// are set are sent.
    pub async fn query_users(&self, query: &QueryUsersRequest) -> Result<QueryUsersResponse> {
        const OP: &str = "queryUsers";
        let pairs = query_pairs(OP, query)?;
        let url = self
            .url(OP)
            .literal("users")
            .query(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())))?;
        self.get(OP, url).await
    }

    /// `updateUser`: changes a user's attributes; those left `None` are not touched.
    pub async fn update_user(
        &self,
        user_id: &str,
        changes: &UpdateUserRequest,
    ) -> Result<UserAttributes> {
        const OP: &str = "updateUser";
        let url = self.user_url(OP, user_id)?.finish()?;
        self.patch(OP, url, changes).await
    }

    /// `deleteUser`: deletes a user and their authenticators.
    pub async fn delete_user(&self, user_id: &str) -> Result<()> {
        const OP: &str = "deleteUser";
        let url = self.user_url(OP, user_id)?.finish()?;
        self.write::<IgnoredAny>(
            OP,
            Method::DELETE,
            url,
            None::<&()>,
            Repeatable::OnlyIfNotSent,
        )
        .await
        .map(drop)
    }

    // ---- authenticators ----------------------------------------------------------------

    /// `getAuthenticators`: the authenticators a user has enrolled.
    pub async fn get_authenticators(&self, user_id: &str) -> Result<Vec<UserAuthenticator>> {
        const OP: &str = "getAuthenticators";
        let url = self
            .user_url(OP, user_id)?
            .literal("authenticators")
            .finish()?;
        self.get(OP, url).await
    }

    /// `enrollVerifiedAuthenticator`: enrolls an authenticator the app has verified itself
    /// (e.g. a phone number checked at sign-up).
    pub async fn enroll_verified_authenticator(
        &self,
        user_id: &str,
        authenticator: &EnrollVerifiedAuthenticatorRequest,
    ) -> Result<EnrollVerifiedAuthenticatorResponse> {
        const OP: &str = "enrollVerifiedAuthenticator";
        let url = self
            .user_url(OP, user_id)?
            .literal("authenticators")
            .finish()?;
        self.post(OP, url, authenticator).await
    }

    /// `deleteAuthenticator`: removes one of a user's authenticators.
    pub async fn delete_authenticator(
        &self,
        user_id: &str,
        user_authenticator_id: &str,
    ) -> Result<()> {
        const OP: &str = "deleteAuthenticator";
        let url = self
            .user_url(OP, user_id)?
            .literal("authenticators")
            .value("userAuthenticatorId", user_authenticator_id)?
            .finish()?;
        self.write::<IgnoredAny>(
            OP,
            Method::DELETE,
            url,
            None::<&()>,
            Repeatable::OnlyIfNotSent,
        )
        .await
        .map(drop)
    }

    /// `batchEnrollVerifiedAuthenticators`: enrolls up to [`MAX_BATCH_ENROLL`] passkeys the
    /// app already holds, for any users, in one request. Items fail on their own (see
    /// [`failures`](BatchEnrollVerifiedAuthenticatorsResponse::failures)); re-enrolling a
    /// credential its user already has is a no-op, so a retry cannot enroll twice.
    ///
    /// An empty or oversized batch is an [`Error::InvalidArgument`], not sent.
    pub async fn batch_enroll_verified_authenticators(
        &self,
        request: &BatchEnrollVerifiedAuthenticatorsRequest,
    ) -> Result<BatchEnrollVerifiedAuthenticatorsResponse> {
        const OP: &str = "batchEnrollVerifiedAuthenticators";
        let size = request.authenticators.len();
        if size == 0 || size > MAX_BATCH_ENROLL {
            return Err(Error::InvalidArgument {
                operation: OP,
                reason: "a batch holds 1 to 1000 authenticators",
            });
        }
        let url = self
            .url(OP)
            .literal("users")
            .literal("authenticators")
            .finish()?;
        self.post(OP, url, request).await
    }

    // ---- devices -----------------------------------------------------------------------

    /// `getDevices`: the devices a user has performed actions on.
    pub async fn get_devices(&self, user_id: &str) -> Result<Vec<UserDevice>> {
        const OP: &str = "getDevices";
        let url = self.user_url(OP, user_id)?.literal("devices").finish()?;
        self.get(OP, url).await
    }

    /// `invalidateDevice`: treats a device as new on the user's next actions (e.g. after
    /// it was reported lost).
    pub async fn invalidate_device(&self, user_id: &str, device_id: &str) -> Result<UserDevice> {
        const OP: &str = "invalidateDevice";
        let url = self
            .device_url(OP, user_id, device_id)?
            .literal("invalidate")
            .finish()?;
        self.write(
            OP,
            Method::POST,
            url,
            None::<&()>,
            Repeatable::OnlyIfNotSent,
        )
        .await
    }

    /// `updateDevice`: remembers a device until an instant, or stops remembering it.
    pub async fn update_device(
        &self,
        user_id: &str,
        device_id: &str,
        update: &UpdateDeviceRequest,
    ) -> Result<UserDevice> {
        const OP: &str = "updateDevice";
        let url = self.device_url(OP, user_id, device_id)?.finish()?;
        self.patch(OP, url, update).await
    }

    /// `/users/{userId}/devices/{deviceId}`.
    fn device_url(
        &self,
        operation: &'static str,
        user_id: &str,
        device_id: &str,
    ) -> Result<UrlBuilder> {
        self.user_url(operation, user_id)?
            .literal("devices")
            .value("deviceId", device_id)
    }

    // ---- actions -----------------------------------------------------------------------

    /// `track`: records an action and answers what to do next (allow, challenge, block,
    /// review).
    ///
    /// The request always carries an idempotency key (one is generated when
    /// `attributes.idempotency_key` is `None` or empty), which is what makes `track` safe
    /// to retry: a repeated request names the same action.
    pub async fn track(
        &self,
        user_id: &str,
        action: &str,
        mut attributes: TrackAttributes,
    ) -> Result<TrackResponse> {
        const OP: &str = "track";
        if attributes
            .idempotency_key
            .as_deref()
            .is_none_or(str::is_empty)
        {
            attributes.idempotency_key = Some(uuid::Uuid::new_v4().to_string());
        }
        let url = self
            .user_url(OP, user_id)?
            .literal("actions")
            .value("action", action)?
            .finish()?;
        self.write(OP, Method::POST, url, Some(&attributes), Repeatable::Yes)
            .await
    }

    /// `validateChallenge`: checks a token the user came back with.
    ///
    /// Proceed only if `is_valid`, the state is `CHALLENGE_SUCCEEDED`, and the user and
    /// action are the ones expected. Whether the API consumes the token is not documented:
    /// guard against replay yourself (the step-up layer does).
    ///
    /// An answer whose `action` and `actionCode` name different actions is
    /// [`Error::Contradictory`]: it says two things about what the token is for.
    pub async fn validate_challenge(
        &self,
        request: &ValidateChallengeRequest,
    ) -> Result<ValidateChallengeResponse> {
        const OP: &str = "validateChallenge";
        let url = self.url(OP).literal("validate").finish()?;
        // Decoded in two steps so that a self-contradicting answer is told apart from an
        // undecodable one: the gate refuses the first (403) and stays shut on the second (503).
        let wire: ValidateChallengeWire = self.post(OP, url, request).await?;
        ValidateChallengeResponse::try_from(wire).map_err(|reason| Error::Contradictory {
            operation: OP,
            reason,
        })
    }

    /// `getAction`: one tracked action.
    pub async fn get_action(
        &self,
        user_id: &str,
        action: &str,
        idempotency_key: &str,
    ) -> Result<ActionDetails> {
        const OP: &str = "getAction";
        let url = self.action_url(OP, user_id, action, idempotency_key)?;
        self.get(OP, url).await
    }

    /// `queryUserActions`: a user's recent actions, filtered.
    pub async fn query_user_actions(
        &self,
        user_id: &str,
        query: &QueryUserActionsRequest,
    ) -> Result<Vec<UserActionSummary>> {
        const OP: &str = "queryUserActions";
        let pairs = query_pairs(OP, query)?;
        let url = self
            .user_url(OP, user_id)?
            .literal("actions")
            .query(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())))?;
        self.get(OP, url).await
    }

    /// `updateAction`: sets an action's state, e.g. after a manual review.
    pub async fn update_action(
        &self,
        user_id: &str,
        action: &str,
        idempotency_key: &str,
        update: &UpdateActionRequest,
    ) -> Result<ActionDetails> {
        const OP: &str = "updateAction";
        let url = self.action_url(OP, user_id, action, idempotency_key)?;
        self.patch(OP, url, update).await
    }

    fn action_url(
        &self,
        operation: &'static str,
        user_id: &str,
        action: &str,
        idempotency_key: &str,
    ) -> Result<reqwest::Url> {
        self.user_url(operation, user_id)?
            .literal("actions")
            .value("action", action)?
            .value("idempotencyKey", idempotency_key)?
            .finish()
    }

    // ---- one-time codes ----------------------------------------------------------------

    /// `challenge`: sends a one-time code by SMS, email or WhatsApp.
    pub async fn challenge(&self, request: &ChallengeRequest) -> Result<ChallengeResponse> {
        const OP: &str = "challenge";
        let url = self.url(OP).literal("challenge").finish()?;
        self.post(OP, url, request).await
    }

    /// `verify`: checks the code the user typed.
    pub async fn verify(&self, request: &VerifyRequest) -> Result<VerifyResponse> {
        const OP: &str = "verify";
        let url = self.url(OP).literal("verify").finish()?;
        self.post(OP, url, request).await
    }

    /// `claimChallenge`: binds a verified challenge to a user and returns a token for
    /// `validateChallenge`.
    pub async fn claim_challenge(
        &self,
        request: &ClaimChallengeRequest,
    ) -> Result<ClaimChallengeResponse> {
        const OP: &str = "claimChallenge";
        let url = self.url(OP).literal("claim").finish()?;
        self.post(OP, url, request).await
    }

    /// `getChallenge`: a pending challenge.
    pub async fn get_challenge(&self, query: &GetChallengeRequest) -> Result<GetChallengeResponse> {
        const OP: &str = "getChallenge";
        let pairs = query_pairs(OP, query)?;
        let url = self
            .url(OP)
            .literal("challenges")
            .query(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())))?;
        self.get(OP, url).await
    }

    // ---- sessions ----------------------------------------------------------------------

    /// `createSession`: exchanges a challenge token for session tokens.
    pub async fn create_session(&self, request: &CreateSessionRequest) -> Result<SessionTokens> {
        const OP: &str = "createSession";
        let url = self.url(OP).literal("sessions").finish()?;
        self.post(OP, url, request).await
    }

    /// `validateSession`: checks an access token and returns its user.
    pub async fn validate_session(
        &self,
        request: &ValidateSessionRequest,
    ) -> Result<ValidateSessionResponse> {
        const OP: &str = "validateSession";
        let url = self
            .url(OP)
            .literal("sessions")
            .literal("validate")
            .finish()?;
        self.post(OP, url, request).await
    }

    /// `refreshSession`: new session tokens for a refresh token.
    pub async fn refresh_session(&self, request: &RefreshSessionRequest) -> Result<SessionTokens> {
        const OP: &str = "refreshSession";
        let url = self
            .url(OP)
            .literal("sessions")
            .literal("refresh")
            .finish()?;
        self.post(OP, url, request).await
    }

    /// `revokeSession`: ends one session.
    pub async fn revoke_session(&self, request: &RevokeSessionRequest) -> Result<()> {
        const OP: &str = "revokeSession";
        let url = self
            .url(OP)
            .literal("sessions")
            .literal("revoke")
            .finish()?;
        self.post::<IgnoredAny>(OP, url, request).await.map(drop)
    }

    /// `revokeUserSessions`: ends every session of a user.
    pub async fn revoke_user_sessions(&self, request: &RevokeUserSessionsRequest) -> Result<()> {
        const OP: &str = "revokeUserSessions";
        let url = self
            .url(OP)
            .literal("sessions")
            .literal("user")
            .literal("revoke")
            .finish()?;
        self.post::<IgnoredAny>(OP, url, request).await.map(drop)
    }
}

/// The query string of a search struct: each field that is set, arrays comma-joined.
fn query_pairs(operation: &'static str, query: &impl Serialize) -> Result<Vec<(String, String)>> {
    let invalid = || Error::InvalidArgument {
        operation,
        reason: "the query could not be encoded",
    };
    let serde_json::Value::Object(fields) = serde_json::to_value(query).map_err(|_| invalid())?
    else {
        return Err(invalid());
    };
    fields
        .into_iter()
        .filter(|(_, value)| !value.is_null())
        .map(|(name, value)| Ok((name, query_value(&value).ok_or_else(invalid)?)))
        .collect()
}

fn query_value(value: &serde_json::Value) -> Option<String> {
    match value {
        serde_json::Value::String(text) => Some(text.clone()),
        serde_json::Value::Number(number) => Some(number.to_string()),
        serde_json::Value::Bool(flag) => Some(flag.to_string()),
        serde_json::Value::Array(items) => items
            .iter()
            .map(query_value)
            .collect::<Option<Vec<_>>>()
            .map(|items| items.join(",")),
        _ => None,
    }
}
