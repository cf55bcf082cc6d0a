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
use super::super::webhooks::SynchronousDelivery;
use super::{ActionRecord, AuthenticatorRecord, PasskeyCredential, Store};
use authsignal::types::{UserActionState, UserAuthenticator, VerificationMethod};

/// A challenge the emulator issued, not yet answered.
#[derive(Debug, Clone)]
pub(crate) struct Ceremony {
    id: String,
    challenge: [u8; 32],
    registration: bool,
    kind: AuthenticatorKind,
    /// What a success completes.
    answers: Answers,
    expires_at: Timestamp,
}

/// What a ceremony's success completes.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Answers {
    /// The action of the token that started it.
    Action(ActionRef),
    /// A sign-in without a token: this action, for whichever user the credential is.
    SignIn {
        action_code: String,
        idempotency_key: String,
    },
}

/// A sign-in without a token (`POST /client/challenge`), until its options are asked for.
#[derive(Debug, Clone)]
pub(crate) struct PendingSignIn {
    id: String,
    action_code: String,
    idempotency_key: String,
    expires_at: Timestamp,
}

/// A ceremony's success, checked and not yet applied: it completes its action only once
/// the action's `action.verify` (if it has one) accepts it, as every other way of
/// verifying waits for it ([`verified`](Self::verified), then
/// [`Store::apply_webauthn`]).
#[derive(Debug)]
pub(crate) struct Checked {
    target: ActionRef,
    kind: AuthenticatorKind,
    success: Success,
    gate: SynchronousDelivery,
}

#[derive(Debug)]
enum Success {
    /// A new credential, registered when applied.
    Registered(Box<AuthenticatorRecord>),
    /// An assertion by this authenticator.
    Asserted(Box<UserAuthenticator>),
}

impl Checked {
    /// The action the success completes.
    pub(crate) fn target(&self) -> &ActionRef {
        &self.target
    }

    /// Waits for the action's `action.verify`: refused, nothing is applied (the
    /// ceremony is spent: the user answers a new one).
    pub(crate) async fn verified(mut self) -> Result<Self, HttpError> {
        std::mem::replace(&mut self.gate, SynchronousDelivery::none())
            .accepted()
            .await?;
        Ok(self)
    }
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
        answers: Answers,
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
            answers,
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
        let ceremony = self.start_ceremony(Answers::Action(target.clone()), kind, true, now);
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
    ) -> Result<Checked, HttpError> {
        let target = &claims.other;
        let challenge = credential.challenge()?;
        let ceremony = self.take_ceremony(&challenge, challenge_id, kind, true, now)?;
        if ceremony.answers != Answers::Action(target.clone()) {
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
        Ok(self.checked(
            target.clone(),
            kind,
            Success::Registered(Box::new(record)),
            now,
        ))
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
        let ceremony = self.start_ceremony(Answers::Action(target.clone()), kind, false, now);
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
    ) -> Result<Checked, HttpError> {
        let target = &claims.other;
        let challenge = credential.challenge()?;
        let ceremony = self.take_ceremony(&challenge, challenge_id, kind, false, now)?;
        if ceremony.answers != Answers::Action(target.clone()) {
            return Err(Refusal::WrongChallenge.into());
        }
        self.ceremony_allowed(claims)?;
        let index = self.passkey_index(kind, &credential.id)?;
        if self.authenticators[index].user_id != target.user_id {
            return Err(Refusal::OtherUser.into());
        }
        let authenticator = self.check_assertion(index, &ceremony, credential, now)?;
        Ok(self.checked(
            target.clone(),
            kind,
            Success::Asserted(Box::new(authenticator)),
            now,
        ))
    }

    /// The verified authenticator of `kind` whose credential id is `credential_id`.
    fn passkey_index(
        &self,
        kind: AuthenticatorKind,
        credential_id: &str,
    ) -> Result<usize, Refusal> {
        self.authenticators
            .iter()
            .position(|a| {
                a.method == kind.method()
                    && a.is_verified()
                    && a.passkey
                        .as_ref()
                        .is_some_and(|p| p.credential_id == credential_id)
            })
            .ok_or(Refusal::UnknownCredential)
    }

    /// Checks an assertion by the authenticator at `index` against `ceremony`; a good one
    /// moves its counter on. Answers the authenticator as the API shows it.
    fn check_assertion(
        &mut self,
        index: usize,
        ceremony: &Ceremony,
        credential: &AuthenticationCredential,
        now: Timestamp,
    ) -> Result<UserAuthenticator, HttpError> {
        let record = &self.authenticators[index];
        let passkey = record.passkey.as_ref().ok_or(Refusal::UnknownCredential)?;
        // A batch-enrolled passkey has no key the emulator can check.
        let public_key = passkey
            .public_key
            .as_deref()
            .ok_or(Refusal::UnknownCredential)?;
        // The pre-built UI in the Web SDK's popup is an iframe on the app's page: the
        // app of the token's action may embed the ceremony (a sign-in without a token
        // has no pre-built UI, and no app).
        let app_origin = match &ceremony.answers {
            Answers::Action(target) => self
                .action(
                    &target.user_id,
                    &target.action_code,
                    &target.idempotency_key,
                )
                .and_then(|action| action.app_origin()),
            Answers::SignIn { .. } => None,
        };
        let expected = Expectation {
            settings: &self.config.relying_party,
            challenge: &ceremony.challenge,
            user_verification: ceremony.kind.requires_user_verification(),
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
        Ok(Store::authenticator_view(record))
    }

    /// `POST /client/challenge` without a token: a sign-in for `action`, whose user the
    /// passkey will tell. Answers its id, good for one `authentication-options`.
    pub(crate) fn start_sign_in(
        &mut self,
        action_code: &str,
        idempotency_key: Option<String>,
        now: Timestamp,
    ) -> String {
        self.sign_ins.retain(|s| now < s.expires_at);
        let id = uuid::Uuid::new_v4().to_string();
        self.sign_ins.push(PendingSignIn {
            id: id.clone(),
            action_code: action_code.to_owned(),
            idempotency_key: idempotency_key.unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
            expires_at: now.plus(self.config.relying_party.ceremony_timeout()),
        });
        id
    }

    /// `authentication-options` without a token: the sign-in `challenge_id` started, with
    /// no credentials listed (a passkey on the device offers itself).
    pub(crate) fn start_sign_in_authentication(
        &mut self,
        challenge_id: &str,
        now: Timestamp,
    ) -> Result<Started, HttpError> {
        let index = self
            .sign_ins
            .iter()
            .position(|s| s.id == challenge_id && now < s.expires_at)
            .ok_or_else(|| {
                HttpError::invalid_request(
                    "challengeId names no sign-in of this tenant, or it has expired or was used.",
                )
            })?;
        let sign_in = self.sign_ins.remove(index);
        let answers = Answers::SignIn {
            action_code: sign_in.action_code,
            idempotency_key: sign_in.idempotency_key,
        };
        let ceremony = self.start_ceremony(answers, AuthenticatorKind::Passkey, false, now);
        let options = options::request(
            &self.config.relying_party,
            AuthenticatorKind::Passkey,
            &ceremony.challenge,
            &[],
        );
        Ok(Started {
            challenge_id: ceremony.id,
            options,
        })
    }

    /// `verify/passkey` without a token: the assertion of a sign-in, by whichever user's
    /// passkey it is (its `userHandle` must say so). A good one tracks the sign-in's
    /// action for that user, completed with `PASSKEY`; answers it with the passkey.
    pub(crate) fn finish_sign_in(
        &mut self,
        credential: &AuthenticationCredential,
        challenge_id: Option<&str>,
        now: Timestamp,
    ) -> Result<Checked, HttpError> {
        let kind = AuthenticatorKind::Passkey;
        let challenge = credential.challenge()?;
        let ceremony = self.take_ceremony(&challenge, challenge_id, kind, false, now)?;
        let Answers::SignIn {
            action_code,
            idempotency_key,
        } = ceremony.answers.clone()
        else {
            return Err(Refusal::WrongChallenge.into());
        };
        let index = self.passkey_index(kind, &credential.id)?;
        let user_id = self.authenticators[index].user_id.clone();
        if !credential.has_user_handle() {
            return Err(Refusal::Malformed("a sign-in needs the userHandle").into());
        }
        let target = ActionRef {
            user_id,
            action_code,
            idempotency_key,
        };
        if self
            .action(
                &target.user_id,
                &target.action_code,
                &target.idempotency_key,
            )
            .is_some()
        {
            return Err(HttpError::invalid_request(
                "The idempotencyKey was already used for this user and action.",
            ));
        }
        let authenticator = self.check_assertion(index, &ceremony, credential, now)?;
        self.actions.push(ActionRecord::new(
            &target.user_id,
            &target.action_code,
            &target.idempotency_key,
            UserActionState::ChallengeRequired,
            now,
        ));
        Ok(self.checked(
            target,
            kind,
            Success::Asserted(Box::new(authenticator)),
            now,
        ))
    }

    /// A success to apply once the action's `action.verify` accepts it.
    fn checked(
        &self,
        target: ActionRef,
        kind: AuthenticatorKind,
        success: Success,
        now: Timestamp,
    ) -> Checked {
        let authenticator_id = match &success {
            Success::Registered(record) => record.id.clone(),
            Success::Asserted(authenticator) => authenticator.user_authenticator_id.clone(),
        };
        let gate = self.verification_gate(&target, &kind.method(), Some(&authenticator_id), now);
        Checked {
            target,
            kind,
            success,
            gate,
        }
    }

    /// Applies a success [`verified`](Checked::verified) by the action's `action.verify`:
    /// registers the new credential (unless another request registered it meanwhile) and
    /// completes the action (unless it can no longer be completed).
    pub(crate) fn apply_webauthn(
        &mut self,
        checked: Checked,
        now: Timestamp,
    ) -> Result<Answered, HttpError> {
        let Checked {
            target,
            kind,
            success,
            ..
        } = checked;
        self.action_challengeable(&target)
            .map_err(|_| HttpError::invalid_request("The token's action cannot be verified."))?;
        let authenticator = match success {
            Success::Registered(mut record) => {
                // Another authenticator may have been enrolled while `action.verify` ran.
                record.is_default = !self.is_enrolled(&target.user_id);
                let credential_id = record.passkey.as_ref().map(|p| p.credential_id.as_str());
                let taken = self
                    .authenticators
                    .iter()
                    .any(|a| a.passkey.as_ref().map(|p| p.credential_id.as_str()) == credential_id);
                if taken {
                    return Err(Refusal::AlreadyRegistered.into());
                }
                let authenticator = Store::authenticator_view(&record);
                self.notify_created(&record, now);
                self.authenticators.push(*record);
                authenticator
            }
            Success::Asserted(authenticator) => *authenticator,
        };
        let authenticator_id = authenticator.user_authenticator_id.clone();
        self.complete_challenge(&target, kind.method(), Some(authenticator_id), now);
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
