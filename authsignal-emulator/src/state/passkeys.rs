//! Passkeys and security keys of the client API: the WebAuthn ceremonies the emulator
//! has started (each challenge good once, for one action, for the relying party's
//! timeout), the credentials registered with them, and the assertions that complete a
//! challenge.

use http::StatusCode;

use super::super::clock::Timestamp;
use super::super::error::HttpError;
use super::super::random;
use super::super::tokens::{ActionRef, ChallengeClaims};
use super::super::webauthn::options::{self, AuthenticatorKind, RegisteringUser};
use super::super::webauthn::verify::{self, Expectation, Registered};
use super::super::webauthn::{
    AuthenticationCredential, Refusal, RegistrationCredential, from_base64url, to_base64url,
};
use super::{AuthenticatorRecord, PasskeyCredential, Store};
use authsignal::types::{UserAuthenticator, VerificationMethod};

/// A challenge the emulator issued, not yet answered.
#[derive(Debug, Clone)]
pub(crate) struct Ceremony {
    id: String,
    challenge: [u8; 32],
    registration: bool,
    kind: AuthenticatorKind,
    /// The action a success completes.
    target: ActionRef,
    expires_at: Timestamp,
}

/// What a registration asks for besides the token's user.
#[derive(Debug, Clone, Default)]
pub(crate) struct RegistrationRequest {
    pub(crate) username: Option<String>,
    pub(crate) display_name: Option<String>,
    pub(crate) authenticator_attachment: Option<String>,
}

/// A ceremony's id and the options its page hands to the browser.
#[derive(Debug, Clone)]
pub(crate) struct Started {
    pub(crate) challenge_id: String,
    pub(crate) options: serde_json::Value,
}

/// A credential that answered: its authenticator, and the action it completed.
#[derive(Debug, Clone)]
pub(crate) struct Answered {
    pub(crate) authenticator: UserAuthenticator,
    pub(crate) user_id: String,
    pub(crate) username: Option<String>,
    pub(crate) display_name: Option<String>,
}

impl AuthenticatorKind {
    pub(crate) fn method(self) -> VerificationMethod {
        match self {
            Self::Passkey => VerificationMethod::Passkey,
            Self::SecurityKey => VerificationMethod::SecurityKey,
        }
    }
}

impl From<Refusal> for HttpError {
    fn from(refusal: Refusal) -> Self {
        // `invalid_credential` is a code the Web SDK knows (its `ErrorCode`).
        HttpError::new(
            StatusCode::BAD_REQUEST,
            "invalid_credential",
            refusal.to_string(),
        )
    }
}

/// The `user.id` a user's credentials are registered with: their user id's bytes.
fn user_handle(user_id: &str) -> &[u8] {
    user_id.as_bytes()
}

impl Store {
    /// The credential ids of `user_id`'s authenticators of `kind`.
    fn credential_ids(&self, user_id: &str, kind: AuthenticatorKind) -> Vec<Vec<u8>> {
        self.authenticators
            .iter()
            .filter(|a| a.user_id == user_id && a.method == kind.method() && a.is_verified())
            .filter_map(|a| a.passkey.as_ref())
            .filter_map(|p| from_base64url(&p.credential_id))
            .collect()
    }

    /// Refuses a token whose action can no longer be completed.
    fn ceremony_allowed(&self, claims: &ChallengeClaims) -> Result<(), HttpError> {
        self.challengeable(claims)
            .map_err(|_| HttpError::invalid_request("The token's action cannot be verified."))
    }

    fn start_ceremony(
        &mut self,
        target: &ActionRef,
        kind: AuthenticatorKind,
        registration: bool,
        now: Timestamp,
    ) -> Ceremony {
        // Ceremonies nobody answered in time are of no use to anyone.
        self.ceremonies.retain(|c| now < c.expires_at);
        let ceremony = Ceremony {
            id: uuid::Uuid::new_v4().to_string(),
            challenge: random::bytes::<32>(),
            registration,
            kind,
            target: target.clone(),
            expires_at: now.plus(self.config.relying_party.ceremony_timeout()),
        };
        self.ceremonies.push(ceremony.clone());
        ceremony
    }

    /// Takes the ceremony `challenge` answers, if this emulator issued it for a ceremony of
    /// this sort and it has not expired: each challenge is good for one answer, right or
    /// wrong. `challenge_id`, when the SDK sends one, must name the same ceremony.
    fn take_ceremony(
        &mut self,
        challenge: &[u8],
        challenge_id: Option<&str>,
        kind: AuthenticatorKind,
        registration: bool,
        now: Timestamp,
    ) -> Result<Ceremony, Refusal> {
        let index = self
            .ceremonies
            .iter()
            .position(|c| c.challenge.as_slice() == challenge)
            .ok_or(Refusal::UnknownChallenge)?;
        let ceremony = self.ceremonies.remove(index);
        if now >= ceremony.expires_at {
            return Err(Refusal::UnknownChallenge);
        }
        if ceremony.kind != kind
            || ceremony.registration != registration
            || challenge_id.is_some_and(|id| id != ceremony.id)
        {
            return Err(Refusal::WrongChallenge);
        }
        Ok(ceremony)
    }

    /// `registration-options`: a registration for the token's user, excluding the
    /// credentials they have. The caller has checked they may add an authenticator.
    pub(crate) fn start_webauthn_registration(
        &mut self,
        claims: &ChallengeClaims,
        kind: AuthenticatorKind,
        request: &RegistrationRequest,
        now: Timestamp,
    ) -> Result<Started, HttpError> {
        let target = &claims.other;
        self.ceremony_allowed(claims)?;
        let user_id = target.user_id.clone();
        let exclude = self.credential_ids(&user_id, kind);
        let user = self.user_mut(&user_id).clone();
        let name = request
            .username
            .clone()
            .or(user.username)
            .or(user.email)
            .unwrap_or_else(|| user_id.clone());
        let display_name = request
            .display_name
            .clone()
            .or(user.display_name)
            .unwrap_or_else(|| name.clone());
        let ceremony = self.start_ceremony(target, kind, true, now);
        let options = options::creation(
            &self.config.relying_party,
            kind,
            &ceremony.challenge,
            RegisteringUser {
                handle: user_handle(&user_id),
                name: &name,
                display_name: &display_name,
            },
            request.authenticator_attachment.as_deref(),
            &exclude,
        );
        if request.username.is_some() || request.display_name.is_some() {
            let user = self.user_mut(&user_id);
            user.username = Some(name);
            user.display_name = Some(display_name);
        }
        Ok(Started {
            challenge_id: ceremony.id,
            options,
        })
    }

    /// `user-authenticators/{passkey,security-key}`: registers the credential if it
    /// answers a registration the emulator started for the token's action, and completes
    /// that action with it.
    pub(crate) fn finish_webauthn_registration(
        &mut self,
        claims: &ChallengeClaims,
        kind: AuthenticatorKind,
        credential: &RegistrationCredential,
        challenge_id: Option<&str>,
        now: Timestamp,
    ) -> Result<Answered, HttpError> {
        let target = &claims.other;
        let challenge = credential.challenge()?;
        let ceremony = self.take_ceremony(&challenge, challenge_id, kind, true, now)?;
        if ceremony.target != *target {
            return Err(Refusal::WrongChallenge.into());
        }
        self.ceremony_allowed(claims)?;
        let expected = Expectation {
            settings: &self.config.relying_party,
            challenge: &ceremony.challenge,
            user_verification: kind.requires_user_verification(),
            embedder: None,
        };
        let new = verify::registration(&expected, credential)?;
        let credential_id = to_base64url(&new.id);
        let taken = self.authenticators.iter().any(|a| {
            a.passkey
                .as_ref()
                .is_some_and(|p| p.credential_id == credential_id)
        });
        if taken {
            return Err(Refusal::AlreadyRegistered.into());
        }
        let user_id = target.user_id.clone();
        let is_default = !self.is_enrolled(&user_id);
        let record = AuthenticatorRecord {
            verified_at: Some(now),
            last_verified_at: Some(now),
            is_default,
            passkey: Some(PasskeyCredential {
                credential_id,
                name: None,
                aaguid: Some(aaguid_text(&new.aaguid)),
                public_key: Some(new.public_key),
                sign_count: new.sign_count,
            }),
            ..AuthenticatorRecord::new(&user_id, kind.method(), now)
        };
        let authenticator = Store::authenticator_view(&record);
        self.notify_created(&record, now);
        let authenticator_id = record.id.clone();
        self.authenticators.push(record);
        self.complete_challenge(target, kind.method(), Some(authenticator_id), now);
        Ok(self.answered(authenticator))
    }

    /// `authentication-options`: an assertion by one of the token's user's credentials of
    /// `kind`.
    pub(crate) fn start_webauthn_authentication(
        &mut self,
        claims: &ChallengeClaims,
        kind: AuthenticatorKind,
        now: Timestamp,
    ) -> Result<Started, HttpError> {
        let target = &claims.other;
        self.ceremony_allowed(claims)?;
        let allow = self.credential_ids(&target.user_id, kind);
        if allow.is_empty() {
            return Err(HttpError::invalid_request(format!(
                "The user has no {}: register one first.",
                kind.method()
            )));
        }
        let ceremony = self.start_ceremony(target, kind, false, now);
        let options = options::request(
            &self.config.relying_party,
            kind,
            &ceremony.challenge,
            &allow,
        );
        Ok(Started {
            challenge_id: ceremony.id,
            options,
        })
    }

    /// `verify/{passkey,security-key}`: checks the assertion against the ceremony it
    /// answers and the credential it names, which must be the token's user's; a good one
    /// completes the action.
    pub(crate) fn finish_webauthn_authentication(
        &mut self,
        claims: &ChallengeClaims,
        kind: AuthenticatorKind,
        credential: &AuthenticationCredential,
        challenge_id: Option<&str>,
        now: Timestamp,
    ) -> Result<Answered, HttpError> {
        let target = &claims.other;
        let challenge = credential.challenge()?;
        let ceremony = self.take_ceremony(&challenge, challenge_id, kind, false, now)?;
        if ceremony.target != *target {
            return Err(Refusal::WrongChallenge.into());
        }
        self.ceremony_allowed(claims)?;
        let index = self
            .authenticators
            .iter()
            .position(|a| {
                a.method == kind.method()
                    && a.is_verified()
                    && a.passkey
                        .as_ref()
                        .is_some_and(|p| p.credential_id == credential.id)
            })
            .ok_or(Refusal::UnknownCredential)?;
        let record = &self.authenticators[index];
        if record.user_id != target.user_id {
            return Err(Refusal::OtherUser.into());
        }
        let passkey = record.passkey.as_ref().ok_or(Refusal::UnknownCredential)?;
        // A batch-enrolled passkey has no key the emulator can check.
        let public_key = passkey
            .public_key
            .as_deref()
            .ok_or(Refusal::UnknownCredential)?;
        // The pre-built UI in the Web SDK's popup is an iframe on the app's page.
        let app_origin = self
            .action(
                &target.user_id,
                &target.action_code,
                &target.idempotency_key,
            )
            .and_then(|action| action.app_origin());
        let expected = Expectation {
            settings: &self.config.relying_party,
            challenge: &ceremony.challenge,
            user_verification: kind.requires_user_verification(),
            embedder: app_origin.as_deref(),
        };
        let sign_count = verify::assertion(
            &expected,
            credential,
            Registered {
                public_key,
                sign_count: passkey.sign_count,
                user_handle: user_handle(&record.user_id),
            },
        )?;
        let record = &mut self.authenticators[index];
        if let Some(passkey) = record.passkey.as_mut() {
            passkey.sign_count = sign_count;
        }
        record.last_verified_at = Some(now);
        let authenticator = Store::authenticator_view(record);
        let authenticator_id = record.id.clone();
        self.complete_challenge(target, kind.method(), Some(authenticator_id), now);
        Ok(self.answered(authenticator))
    }

    fn answered(&self, authenticator: UserAuthenticator) -> Answered {
        let user_id = authenticator.user_id.clone().unwrap_or_default();
        let user = self.user(&user_id);
        Answered {
            username: user.and_then(|u| u.username.clone()),
            display_name: user.and_then(|u| u.display_name.clone()),
            user_id,
            authenticator,
        }
    }
}

/// An AAGUID as its UUID text.
fn aaguid_text(aaguid: &[u8; 16]) -> String {
    uuid::Uuid::from_bytes(*aaguid).to_string()
}
