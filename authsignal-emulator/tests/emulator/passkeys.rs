//! Passkeys and security keys in the client API, answered by a software authenticator
//! (a P-256 key in the test) the way a browser and an authenticator answer: registration,
//! sign-in, and every relying-party check refusing what a real one refuses.

use authsignal::types::{UserActionState, ValidateChallengeRequest, VerificationMethod};
use authsignal_emulator::{ActionConfig, EmulatorHandle, RelyingPartySettings};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use coset::cbor::value::Value as Cbor;
use coset::iana;
use p256::ecdsa::signature::Signer as _;
use p256::ecdsa::{Signature, SigningKey};
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

use crate::emulator_util::{builder, client_post, t0, track};

const ORIGIN: &str = "http://localhost:3000";

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn unb64(text: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD.decode(text).expect("base64url")
}

fn cbor(value: &Cbor) -> Vec<u8> {
    let mut bytes = Vec::new();
    coset::cbor::ser::into_writer(value, &mut bytes).expect("CBOR encodes");
    bytes
}

/// An authenticator in software, with a knob for each thing a bad one (or an attacker)
/// could get wrong.
pub(crate) struct SoftAuthenticator {
    key: SigningKey,
    credential_id: Vec<u8>,
    counter: u32,
    /// Whether it moves its counter on at each assertion (some authenticators keep 0).
    counts: bool,
    /// What the browser writes into the client data.
    origin: String,
    /// The top-level page's origin, for a ceremony in a cross-origin iframe (then the
    /// client data says `crossOrigin: true`).
    pub(crate) top_origin: Option<String>,
    /// The RP ID it hashes into authenticator data.
    rp_id: String,
    /// UP | UV by default.
    flags: u8,
    /// Overrides the client data `type` when set.
    client_type: Option<&'static str>,
    /// Overrides the challenge the client data answers when set.
    challenge: Option<Vec<u8>>,
    attestation_format: &'static str,
    algorithm: iana::Algorithm,
}

const UP: u8 = 0x01;
const UV: u8 = 0x04;
const AT: u8 = 0x40;

impl SoftAuthenticator {
    pub(crate) fn new(seed: u8) -> Self {
        Self {
            key: SigningKey::from_slice(&[seed; 32]).expect("a valid scalar"),
            credential_id: vec![seed; 16],
            counter: 0,
            counts: true,
            origin: ORIGIN.into(),
            top_origin: None,
            rp_id: "localhost".into(),
            flags: UP | UV,
            client_type: None,
            challenge: None,
            attestation_format: "none",
            algorithm: iana::Algorithm::ES256,
        }
    }

    fn client_data(&self, kind: &str, options: &Value) -> Vec<u8> {
        let challenge = self
            .challenge
            .clone()
            .unwrap_or_else(|| unb64(options["challenge"].as_str().expect("a challenge")));
        let mut data = json!({
            "type": self.client_type.unwrap_or(kind),
            "challenge": b64(&challenge),
            "origin": self.origin,
            "crossOrigin": false,
        });
        if let Some(top) = &self.top_origin {
            data["crossOrigin"] = json!(true);
            data["topOrigin"] = json!(top);
        }
        data.to_string().into_bytes()
    }

    fn authenticator_data(&self, flags: u8, attested: &[u8]) -> Vec<u8> {
        let mut data = Sha256::digest(self.rp_id.as_bytes()).to_vec();
        data.push(flags);
        data.extend_from_slice(&self.counter.to_be_bytes());
        data.extend_from_slice(attested);
        data
    }

    fn cose_key(&self) -> Vec<u8> {
        let point = self.key.verifying_key().to_sec1_point(false);
        let point = point.as_bytes();
        cbor(&Cbor::Map(vec![
            (Cbor::from(1), Cbor::from(2)),
            (Cbor::from(3), Cbor::from(self.algorithm as i64)),
            (Cbor::from(-1), Cbor::from(1)),
            (Cbor::from(-2), Cbor::Bytes(point[1..33].to_vec())),
            (Cbor::from(-3), Cbor::Bytes(point[33..65].to_vec())),
        ]))
    }

    /// `navigator.credentials.create()` with these options: a `RegistrationResponseJSON`.
    pub(crate) fn create(&mut self, options: &Value) -> Value {
        let client_data = self.client_data("webauthn.create", options);
        let mut attested = vec![0u8; 16];
        attested.extend_from_slice(
            &u16::try_from(self.credential_id.len())
                .unwrap()
                .to_be_bytes(),
        );
        attested.extend_from_slice(&self.credential_id);
        attested.extend_from_slice(&self.cose_key());
        let auth_data = self.authenticator_data(self.flags | AT, &attested);
        let statement = if self.attestation_format == "none" {
            Cbor::Map(vec![])
        } else {
            Cbor::Map(vec![(Cbor::from("alg"), Cbor::from(-7))])
        };
        let object = cbor(&Cbor::Map(vec![
            (Cbor::from("fmt"), Cbor::from(self.attestation_format)),
            (Cbor::from("attStmt"), statement),
            (Cbor::from("authData"), Cbor::Bytes(auth_data)),
        ]));
        json!({
            "id": b64(&self.credential_id),
            "rawId": b64(&self.credential_id),
            "type": "public-key",
            "response": {
                "clientDataJSON": b64(&client_data),
                "attestationObject": b64(&object),
                "transports": ["internal"],
            },
            "clientExtensionResults": {},
            "authenticatorAttachment": "platform",
        })
    }

    /// `navigator.credentials.get()`: an `AuthenticationResponseJSON`, signed, the counter
    /// moved on by one.
    pub(crate) fn get(&mut self, options: &Value, user_id: &str) -> Value {
        if self.counts {
            self.counter += 1;
        }
        let client_data = self.client_data("webauthn.get", options);
        let auth_data = self.authenticator_data(self.flags, &[]);
        let mut signed = auth_data.clone();
        signed.extend_from_slice(&Sha256::digest(&client_data));
        let signature: Signature = self.key.sign(&signed);
        json!({
            "id": b64(&self.credential_id),
            "rawId": b64(&self.credential_id),
            "type": "public-key",
            "response": {
                "clientDataJSON": b64(&client_data),
                "authenticatorData": b64(&auth_data),
                "signature": b64(signature.to_der().as_bytes()),
                "userHandle": b64(user_id.as_bytes()),
            },
            "clientExtensionResults": {},
        })
    }
}

/// An emulator whose `signUp` prompts everyone to enroll and `withdraw` challenges, with
/// `relying_party` (the development one by default).
async fn start_with(relying_party: Option<RelyingPartySettings>) -> EmulatorHandle {
    let mut builder = builder()
        .action("signUp", ActionConfig::challenge().prompt_enrollment(true))
        .action("withdraw", ActionConfig::challenge());
    if let Some(settings) = relying_party {
        builder = builder.relying_party(settings);
    }
    let emulator = builder.start().await.expect("the emulator starts");
    emulator.set_time(t0());
    emulator
}

pub(crate) async fn start() -> EmulatorHandle {
    start_with(None).await
}

async fn token_for(emulator: &EmulatorHandle, user: &str, action: &str) -> String {
    track(emulator, user, action, None)
        .await
        .token
        .expect("a token")
        .into_string()
}

/// Registration options for the token's user; asserts a 200.
pub(crate) async fn registration_options(emulator: &EmulatorHandle, token: &str) -> Value {
    let (status, body) = client_post(
        emulator,
        token,
        "/user-authenticators/passkey/registration-options",
        Some(json!({"username": "jane@example.com"})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body
}

pub(crate) async fn add_passkey(
    emulator: &EmulatorHandle,
    token: &str,
    options: &Value,
    credential: Value,
) -> (u16, Value) {
    client_post(
        emulator,
        token,
        "/user-authenticators/passkey",
        Some(json!({"registrationCredential": credential, "challengeId": options["challengeId"]})),
    )
    .await
}

/// Signs `user` up with `authenticator`'s passkey; answers the token the sign-up returned.
pub(crate) async fn sign_up(
    emulator: &EmulatorHandle,
    user: &str,
    authenticator: &mut SoftAuthenticator,
) -> String {
    let token = token_for(emulator, user, "signUp").await;
    let options = registration_options(emulator, &token).await;
    let credential = authenticator.create(&options["options"]);
    let (status, body) = add_passkey(emulator, &token, &options, credential).await;
    assert_eq!(status, 200, "{body}");
    body["accessToken"].as_str().expect("a token").to_owned()
}

pub(crate) async fn authentication_options(emulator: &EmulatorHandle, token: &str) -> Value {
    let (status, body) = client_post(
        emulator,
        token,
        "/user-authenticators/passkey/authentication-options",
        Some(json!({})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body
}

pub(crate) async fn verify_passkey(
    emulator: &EmulatorHandle,
    token: &str,
    options: &Value,
    assertion: &Value,
) -> (u16, Value) {
    client_post(
        emulator,
        token,
        "/verify/passkey",
        Some(json!({
            "authenticationCredential": assertion,
            "deviceId": "device-1",
            "challengeId": options["challengeId"],
        })),
    )
    .await
}

async fn state_of(
    emulator: &EmulatorHandle,
    token: &str,
) -> (Option<UserActionState>, Option<VerificationMethod>) {
    let validation = emulator
        .client()
        .validate_challenge(&ValidateChallengeRequest {
            token: token.into(),
            user_id: None,
            action: None,
        })
        .await
        .expect("validate answers");
    (validation.state, validation.verification_method)
}

/// A refusal: 400 `invalid_credential` with `text` in its description.
fn assert_refused((status, body): (u16, Value), text: &str) {
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["errorCode"], "invalid_credential", "{body}");
    let description = body["errorDescription"].as_str().unwrap_or_default();
    assert!(description.contains(text), "{description:?} lacks {text:?}");
}

/// A step-up on `withdraw` for `user`: the track token and the authentication options.
async fn step_up(emulator: &EmulatorHandle, user: &str) -> (String, Value) {
    let token = token_for(emulator, user, "withdraw").await;
    let options = authentication_options(emulator, &token).await;
    (token, options)
}

/// Every refused step-up leaves the action where it was: challenged, not passed.
async fn assert_still_challenged(emulator: &EmulatorHandle, token: &str) {
    assert_eq!(
        state_of(emulator, token).await.0,
        Some(UserActionState::ChallengeRequired)
    );
}

#[tokio::test]
async fn a_passkey_signs_up_then_passes_a_step_up_that_validates_as_passkey() {
    let emulator = start().await;
    let mut phone = SoftAuthenticator::new(7);
    let token = token_for(&emulator, "jane", "signUp").await;
    let options = registration_options(&emulator, &token).await;
    let creation = &options["options"];
    assert_eq!(creation["rp"]["id"], "localhost");
    assert_eq!(creation["user"]["id"], b64(b"jane"));
    assert_eq!(creation["user"]["name"], "jane@example.com");
    assert_eq!(creation["attestation"], "none");
    assert_eq!(
        creation["pubKeyCredParams"],
        json!([{"type": "public-key", "alg": -7}])
    );
    assert_eq!(
        creation["authenticatorSelection"]["userVerification"],
        "required"
    );
    let (status, added) = add_passkey(&emulator, &token, &options, phone.create(creation)).await;
    assert_eq!(status, 200, "{added}");
    assert_eq!(added["isVerified"], true);
    assert_eq!(added["userId"], "jane");
    assert_eq!(added["userAuthenticator"]["verificationMethod"], "PASSKEY");
    assert_eq!(
        added["userAuthenticator"]["webauthnCredential"]["credentialId"],
        b64(&phone.credential_id)
    );
    let signed_up = added["accessToken"].as_str().unwrap();
    assert_eq!(
        state_of(&emulator, signed_up).await,
        (
            Some(UserActionState::ChallengeSucceeded),
            Some(VerificationMethod::Passkey)
        )
    );

    // The SDK syncs its list with the new token; the Server API lists the passkey too.
    let listed: Value = reqwest::Client::new()
        .get(format!("{}/client/user-authenticators", emulator.api_url()))
        .bearer_auth(signed_up)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed[0]["verificationMethod"], "PASSKEY", "{listed}");
    let enrolled = emulator.client().get_authenticators("jane").await.unwrap();
    assert_eq!(enrolled.len(), 1);
    assert_eq!(
        enrolled[0].verification_method,
        Some(VerificationMethod::Passkey)
    );

    let (token, options) = step_up(&emulator, "jane").await;
    assert_eq!(options["options"]["rpId"], "localhost");
    assert_eq!(
        options["options"]["allowCredentials"],
        json!([{"id": b64(&phone.credential_id), "type": "public-key"}])
    );
    let assertion = phone.get(&options["options"], "jane");
    let (status, verified) = verify_passkey(&emulator, &token, &options, &assertion).await;
    assert_eq!(status, 200, "{verified}");
    assert_eq!(verified["isVerified"], true);
    assert_eq!(verified["userId"], "jane");
    assert_eq!(
        verified["userAuthenticatorId"],
        added["userAuthenticatorId"]
    );
    assert_eq!(
        state_of(&emulator, verified["accessToken"].as_str().unwrap()).await,
        (
            Some(UserActionState::ChallengeSucceeded),
            Some(VerificationMethod::Passkey)
        )
    );
}

#[tokio::test]
async fn a_challenge_the_emulator_did_not_issue_is_refused() {
    let emulator = start().await;
    let mut phone = SoftAuthenticator::new(7);
    sign_up(&emulator, "jane", &mut phone).await;
    let (token, options) = step_up(&emulator, "jane").await;
    phone.challenge = Some(vec![9; 32]);
    let assertion = phone.get(&options["options"], "jane");
    assert_refused(
        verify_passkey(&emulator, &token, &options, &assertion).await,
        "not issued",
    );
    assert_still_challenged(&emulator, &token).await;

    // At registration too.
    let mut other = SoftAuthenticator::new(8);
    let token = token_for(&emulator, "ann", "signUp").await;
    let options = registration_options(&emulator, &token).await;
    other.challenge = Some(vec![9; 32]);
    let credential = other.create(&options["options"]);
    assert_refused(
        add_passkey(&emulator, &token, &options, credential).await,
        "not issued",
    );
    assert!(
        emulator
            .client()
            .get_authenticators("ann")
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn a_challenge_is_good_once() {
    let emulator = start().await;
    // An authenticator without a counter (always 0), so that only the challenge can tell
    // a replay from a new assertion.
    let mut phone = SoftAuthenticator::new(7);
    phone.counts = false;
    sign_up(&emulator, "jane", &mut phone).await;
    let (token, options) = step_up(&emulator, "jane").await;
    let assertion = phone.get(&options["options"], "jane");
    let (status, body) = verify_passkey(&emulator, &token, &options, &assertion).await;
    assert_eq!(status, 200, "{body}");

    // The same assertion again, with the same token: refused, no new token.
    let (status, body) = verify_passkey(&emulator, &token, &options, &assertion).await;
    assert!(body["accessToken"].is_null(), "{body}");
    assert_refused((status, body), "already used");

    // And for a new action of the same user.
    let (again, _) = step_up(&emulator, "jane").await;
    assert_refused(
        verify_passkey(&emulator, &again, &options, &assertion).await,
        "already used",
    );
    assert_still_challenged(&emulator, &again).await;

    // A new ceremony, answered by the same authenticator, still works.
    let (token, options) = step_up(&emulator, "jane").await;
    let assertion = phone.get(&options["options"], "jane");
    assert_eq!(
        verify_passkey(&emulator, &token, &options, &assertion)
            .await
            .0,
        200
    );
}

#[tokio::test]
async fn an_expired_ceremony_is_refused() {
    let emulator = start().await;
    let mut phone = SoftAuthenticator::new(7);
    sign_up(&emulator, "jane", &mut phone).await;
    let (token, options) = step_up(&emulator, "jane").await;
    emulator.advance(std::time::Duration::from_secs(5 * 60));
    let assertion = phone.get(&options["options"], "jane");
    assert_refused(
        verify_passkey(&emulator, &token, &options, &assertion).await,
        "expired",
    );
}

#[tokio::test]
async fn the_client_data_type_must_match_the_ceremony() {
    let emulator = start().await;
    let mut phone = SoftAuthenticator::new(7);
    let token = token_for(&emulator, "jane", "signUp").await;
    let options = registration_options(&emulator, &token).await;
    phone.client_type = Some("webauthn.get");
    let credential = phone.create(&options["options"]);
    assert_refused(
        add_passkey(&emulator, &token, &options, credential).await,
        "webauthn.create",
    );

    phone.client_type = None;
    sign_up(&emulator, "jane", &mut phone).await;
    let (token, options) = step_up(&emulator, "jane").await;
    phone.client_type = Some("webauthn.create");
    let assertion = phone.get(&options["options"], "jane");
    assert_refused(
        verify_passkey(&emulator, &token, &options, &assertion).await,
        "webauthn.get",
    );
    assert_still_challenged(&emulator, &token).await;
}

#[tokio::test]
async fn the_origin_must_be_allowed() {
    // The development relying party: any http://localhost port, nothing else.
    let emulator = start().await;
    let mut phone = SoftAuthenticator::new(7);
    phone.origin = "http://localhost:9999".into();
    sign_up(&emulator, "jane", &mut phone).await;
    for origin in [
        "https://localhost:3000",
        "http://127.0.0.1:3000",
        "http://evil.example",
    ] {
        let (token, options) = step_up(&emulator, "jane").await;
        phone.origin = origin.into();
        let assertion = phone.get(&options["options"], "jane");
        assert_refused(
            verify_passkey(&emulator, &token, &options, &assertion).await,
            "origin",
        );
        assert_still_challenged(&emulator, &token).await;
    }

    // A configured relying party: its origins only.
    let emulator = start_with(Some(
        RelyingPartySettings::new("localhost").origin("http://localhost:3000"),
    ))
    .await;
    let mut phone = SoftAuthenticator::new(7);
    phone.origin = "http://localhost:4000".into();
    let token = token_for(&emulator, "jane", "signUp").await;
    let options = registration_options(&emulator, &token).await;
    let credential = phone.create(&options["options"]);
    assert_refused(
        add_passkey(&emulator, &token, &options, credential).await,
        "origin",
    );
    phone.origin = ORIGIN.into();
    sign_up(&emulator, "jane", &mut phone).await;
}

#[tokio::test]
async fn the_rp_id_hash_must_be_the_relying_partys() {
    let emulator = start().await;
    let mut phone = SoftAuthenticator::new(7);
    let token = token_for(&emulator, "jane", "signUp").await;
    let options = registration_options(&emulator, &token).await;
    phone.rp_id = "example.com".into();
    let credential = phone.create(&options["options"]);
    assert_refused(
        add_passkey(&emulator, &token, &options, credential).await,
        "RP ID",
    );

    phone.rp_id = "localhost".into();
    sign_up(&emulator, "jane", &mut phone).await;
    let (token, options) = step_up(&emulator, "jane").await;
    phone.rp_id = "example.com".into();
    let assertion = phone.get(&options["options"], "jane");
    assert_refused(
        verify_passkey(&emulator, &token, &options, &assertion).await,
        "RP ID",
    );
    assert_still_challenged(&emulator, &token).await;
}

#[tokio::test]
async fn the_user_must_be_present_and_verified() {
    let emulator = start().await;
    let mut phone = SoftAuthenticator::new(7);
    sign_up(&emulator, "jane", &mut phone).await;
    for (flags, text) in [(UV, "not present"), (UP, "not verified")] {
        let (token, options) = step_up(&emulator, "jane").await;
        phone.flags = flags;
        let assertion = phone.get(&options["options"], "jane");
        assert_refused(
            verify_passkey(&emulator, &token, &options, &assertion).await,
            text,
        );
        assert_still_challenged(&emulator, &token).await;
    }

    // At registration too.
    let mut other = SoftAuthenticator::new(8);
    other.flags = UP;
    let token = token_for(&emulator, "ann", "signUp").await;
    let options = registration_options(&emulator, &token).await;
    let credential = other.create(&options["options"]);
    assert_refused(
        add_passkey(&emulator, &token, &options, credential).await,
        "not verified",
    );
}

#[tokio::test]
async fn the_signature_must_be_the_registered_keys() {
    let emulator = start().await;
    let mut phone = SoftAuthenticator::new(7);
    sign_up(&emulator, "jane", &mut phone).await;
    let (token, options) = step_up(&emulator, "jane").await;
    // Another key claiming the registered credential's id.
    let mut forger = SoftAuthenticator::new(9);
    forger.credential_id = phone.credential_id.clone();
    forger.counter = 10;
    let assertion = forger.get(&options["options"], "jane");
    assert_refused(
        verify_passkey(&emulator, &token, &options, &assertion).await,
        "signature",
    );
    assert_still_challenged(&emulator, &token).await;

    // The right key over other data: the client data swapped after signing.
    let (token, options) = step_up(&emulator, "jane").await;
    let mut assertion = phone.get(&options["options"], "jane");
    let client_data = unb64(assertion["response"]["clientDataJSON"].as_str().unwrap());
    let tampered = String::from_utf8(client_data)
        .unwrap()
        .replace("\"crossOrigin\":false", "\"crossOrigin\":false ");
    assertion["response"]["clientDataJSON"] = b64(tampered.as_bytes()).into();
    assert_refused(
        verify_passkey(&emulator, &token, &options, &assertion).await,
        "signature",
    );
    assert_still_challenged(&emulator, &token).await;
}

#[tokio::test]
async fn a_sign_counter_that_does_not_grow_is_refused() {
    let emulator = start().await;
    let mut phone = SoftAuthenticator::new(7);
    sign_up(&emulator, "jane", &mut phone).await;
    let (token, options) = step_up(&emulator, "jane").await;
    let assertion = phone.get(&options["options"], "jane");
    assert_eq!(
        verify_passkey(&emulator, &token, &options, &assertion)
            .await
            .0,
        200
    );

    // A clone of the key, one step behind: its counter repeats the last one seen.
    let (token, options) = step_up(&emulator, "jane").await;
    phone.counter -= 1;
    let assertion = phone.get(&options["options"], "jane");
    assert_refused(
        verify_passkey(&emulator, &token, &options, &assertion).await,
        "counter",
    );
    assert_still_challenged(&emulator, &token).await;

    // The genuine key, moving on, still works.
    let (token, options) = step_up(&emulator, "jane").await;
    let assertion = phone.get(&options["options"], "jane");
    assert_eq!(
        verify_passkey(&emulator, &token, &options, &assertion)
            .await
            .0,
        200
    );
}

#[tokio::test]
async fn a_credential_of_another_user_is_refused() {
    let emulator = start().await;
    let mut janes = SoftAuthenticator::new(7);
    let mut anns = SoftAuthenticator::new(8);
    sign_up(&emulator, "jane", &mut janes).await;
    sign_up(&emulator, "ann", &mut anns).await;
    // Ann's step-up answered with Jane's passkey (Jane's handle, or Ann's).
    for handle in ["jane", "ann"] {
        let (token, options) = step_up(&emulator, "ann").await;
        let assertion = janes.get(&options["options"], handle);
        assert_refused(
            verify_passkey(&emulator, &token, &options, &assertion).await,
            "another user",
        );
        assert_still_challenged(&emulator, &token).await;
    }
}

#[tokio::test]
async fn only_none_attestation_of_es256_keys_registers() {
    let emulator = start().await;
    let mut phone = SoftAuthenticator::new(7);
    phone.attestation_format = "packed";
    let token = token_for(&emulator, "jane", "signUp").await;
    let options = registration_options(&emulator, &token).await;
    let credential = phone.create(&options["options"]);
    assert_refused(
        add_passkey(&emulator, &token, &options, credential).await,
        "attestation",
    );

    phone.attestation_format = "none";
    phone.algorithm = iana::Algorithm::ES384;
    let options = registration_options(&emulator, &token).await;
    let credential = phone.create(&options["options"]);
    assert_refused(
        add_passkey(&emulator, &token, &options, credential).await,
        "ES256",
    );
    assert!(
        emulator
            .client()
            .get_authenticators("jane")
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn a_credential_registers_once() {
    let emulator = start().await;
    let mut phone = SoftAuthenticator::new(7);
    sign_up(&emulator, "jane", &mut phone).await;
    let token = token_for(&emulator, "ann", "signUp").await;
    let options = registration_options(&emulator, &token).await;
    let credential = phone.create(&options["options"]);
    assert_refused(
        add_passkey(&emulator, &token, &options, credential).await,
        "already registered",
    );
}

#[tokio::test]
async fn an_enrolled_user_adds_a_passkey_only_after_proving_a_factor() {
    let emulator = start().await;
    let mut phone = SoftAuthenticator::new(7);
    sign_up(&emulator, "jane", &mut phone).await;
    let track_token = token_for(&emulator, "jane", "withdraw").await;
    let (status, body) = client_post(
        &emulator,
        &track_token,
        "/user-authenticators/passkey/registration-options",
        Some(json!({})),
    )
    .await;
    assert_eq!(
        (status, body["errorCode"].as_str()),
        (403, Some("forbidden")),
        "{body}"
    );

    // After passing the step-up, the token it answered may add one.
    let options = authentication_options(&emulator, &track_token).await;
    let assertion = phone.get(&options["options"], "jane");
    let (_, verified) = verify_passkey(&emulator, &track_token, &options, &assertion).await;
    let proven = verified["accessToken"].as_str().unwrap();
    let options = registration_options(&emulator, proven).await;
    assert_eq!(
        options["options"]["excludeCredentials"],
        json!([{"id": b64(&phone.credential_id), "type": "public-key"}])
    );
    let mut laptop = SoftAuthenticator::new(8);
    let (status, body) = add_passkey(
        &emulator,
        proven,
        &options,
        laptop.create(&options["options"]),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        emulator
            .client()
            .get_authenticators("jane")
            .await
            .unwrap()
            .len(),
        2
    );
}

#[tokio::test]
async fn a_ceremony_answers_only_the_token_it_was_started_for() {
    let emulator = start().await;
    let mut phone = SoftAuthenticator::new(7);
    sign_up(&emulator, "jane", &mut phone).await;
    let (_, options) = step_up(&emulator, "jane").await;
    let (other_token, _) = step_up(&emulator, "jane").await;
    let assertion = phone.get(&options["options"], "jane");
    assert_refused(
        verify_passkey(&emulator, &other_token, &options, &assertion).await,
        "another ceremony",
    );
    assert_still_challenged(&emulator, &other_token).await;
}

#[tokio::test]
async fn bad_bodies_and_tokens_are_clear_4xx() {
    let emulator = start().await;
    let token = token_for(&emulator, "jane", "signUp").await;
    for (path, body) in [
        ("/user-authenticators/passkey", json!({})),
        (
            "/user-authenticators/passkey",
            json!({"registrationCredential": {"id": "x"}}),
        ),
        ("/verify/passkey", json!({"authenticationCredential": 3})),
        (
            "/user-authenticators/passkey",
            json!({"registrationCredential": {
            "id": "!!", "rawId": "!!", "type": "public-key",
            "response": {"clientDataJSON": "e30", "attestationObject": "oA"}}}),
        ),
        (
            "/verify/passkey",
            json!({"authenticationCredential": {
            "id": "AA", "rawId": "AA", "type": "public-key",
            "response": {"clientDataJSON": "bm90IGpzb24", "authenticatorData": "", "signature": ""}}}),
        ),
    ] {
        let (status, answer) = client_post(&emulator, &token, path, Some(body)).await;
        assert_eq!(status, 400, "{path}: {answer}");
        assert!(answer["errorDescription"].is_string(), "{answer}");
    }
    let (status, answer) = client_post(
        &emulator,
        "not-a-token",
        "/user-authenticators/passkey/authentication-options",
        Some(json!({})),
    )
    .await;
    assert_eq!(
        (status, answer["errorCode"].as_str()),
        (401, Some("unauthorized"))
    );
    // A user with no passkey has nothing to sign in with.
    let (status, answer) = client_post(
        &emulator,
        &token,
        "/user-authenticators/passkey/authentication-options",
        Some(json!({})),
    )
    .await;
    assert_eq!(status, 400, "{answer}");
}

#[tokio::test]
async fn a_security_key_enrolls_and_verifies_as_security_key() {
    let emulator = start().await;
    let mut key = SoftAuthenticator::new(5);
    // A security key need not verify its user: presence is enough.
    key.flags = UP;
    let token = token_for(&emulator, "jane", "signUp").await;
    let (status, options) = client_post(
        &emulator,
        &token,
        "/user-authenticators/security-key/registration-options",
        Some(json!({})),
    )
    .await;
    assert_eq!(status, 200, "{options}");
    assert_eq!(
        options["authenticatorSelection"]["authenticatorAttachment"],
        "cross-platform"
    );
    let (status, added) = client_post(
        &emulator,
        &token,
        "/user-authenticators/security-key",
        Some(key.create(&options)),
    )
    .await;
    assert_eq!(status, 200, "{added}");
    assert_eq!(
        added["userAuthenticator"]["verificationMethod"],
        "SECURITY_KEY"
    );

    let token = token_for(&emulator, "jane", "withdraw").await;
    // Not a passkey: the passkey routes do not take it.
    let (status, _) = client_post(
        &emulator,
        &token,
        "/user-authenticators/passkey/authentication-options",
        Some(json!({})),
    )
    .await;
    assert_eq!(status, 400);
    let (status, options) = client_post(
        &emulator,
        &token,
        "/user-authenticators/security-key/authentication-options",
        Some(json!({})),
    )
    .await;
    assert_eq!(status, 200, "{options}");
    let assertion = key.get(&options, "jane");
    let (status, verified) = client_post(
        &emulator,
        &token,
        "/verify/security-key",
        Some(assertion.clone()),
    )
    .await;
    assert_eq!(status, 200, "{verified}");
    assert_eq!(
        state_of(&emulator, verified["accessToken"].as_str().unwrap()).await,
        (
            Some(UserActionState::ChallengeSucceeded),
            Some(VerificationMethod::SecurityKey)
        )
    );
    // Replayed: refused.
    let (again, _) = step_up_security_key(&emulator).await;
    assert_refused(
        client_post(&emulator, &again, "/verify/security-key", Some(assertion)).await,
        "already used",
    );
}

async fn step_up_security_key(emulator: &EmulatorHandle) -> (String, Value) {
    let token = token_for(emulator, "jane", "withdraw").await;
    let (_, options) = client_post(
        emulator,
        &token,
        "/user-authenticators/security-key/authentication-options",
        Some(json!({})),
    )
    .await;
    (token, options)
}

/// A client API call with the tenant's Basic auth, as the Web SDK makes it without a
/// token: `Basic base64(encodeURIComponent(tenantId))`.
async fn tenant_post(
    emulator: &EmulatorHandle,
    tenant_id: &str,
    path: &str,
    body: Value,
) -> (u16, Value) {
    let answer = reqwest::Client::new()
        .post(format!("{}/client{path}", emulator.api_url()))
        .header(
            "authorization",
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(tenant_id)
            ),
        )
        .json(&body)
        .send()
        .await
        .expect("the emulator answers");
    (
        answer.status().as_u16(),
        answer.json().await.expect("a JSON body"),
    )
}

/// `passkey.signIn({action})`: the sign-in's options, for whichever passkey answers.
async fn sign_in_options(emulator: &EmulatorHandle, action: &str) -> Value {
    let tenant = emulator.tenant_id();
    let (status, challenge) =
        tenant_post(emulator, tenant, "/challenge", json!({"action": action})).await;
    assert_eq!(status, 200, "{challenge}");
    let (status, options) = tenant_post(
        emulator,
        tenant,
        "/user-authenticators/passkey/authentication-options",
        json!({"challengeId": challenge["challengeId"]}),
    )
    .await;
    assert_eq!(status, 200, "{options}");
    options
}

async fn verify_sign_in(
    emulator: &EmulatorHandle,
    options: &Value,
    assertion: &Value,
) -> (u16, Value) {
    tenant_post(
        emulator,
        emulator.tenant_id(),
        "/verify/passkey",
        json!({"authenticationCredential": assertion, "challengeId": options["challengeId"]}),
    )
    .await
}

#[tokio::test]
async fn a_passkey_signs_in_without_a_token_and_its_user_gets_the_action() {
    let emulator = start().await;
    let mut phone = SoftAuthenticator::new(7);
    sign_up(&emulator, "jane", &mut phone).await;
    let options = sign_in_options(&emulator, "signIn").await;
    assert_eq!(options["options"]["allowCredentials"], json!([]));
    let assertion = phone.get(&options["options"], "jane");
    let (status, signed_in) = verify_sign_in(&emulator, &options, &assertion).await;
    assert_eq!(status, 200, "{signed_in}");
    assert_eq!(signed_in["userId"], "jane");
    assert_eq!(signed_in["username"], "jane@example.com");
    let token = signed_in["accessToken"].as_str().unwrap();
    let validation = emulator
        .client()
        .validate_challenge(&ValidateChallengeRequest {
            token: token.into(),
            user_id: Some("jane".into()),
            action: Some("signIn".into()),
        })
        .await
        .unwrap();
    assert!(validation.is_valid);
    assert_eq!(
        validation.verification_method,
        Some(VerificationMethod::Passkey)
    );

    // Replayed: refused.
    assert_refused(
        verify_sign_in(&emulator, &options, &assertion).await,
        "already used",
    );
}

#[tokio::test]
async fn the_sdk_asks_whether_a_passkey_this_device_remembers_is_still_registered() {
    let emulator = start().await;
    let mut phone = SoftAuthenticator::new(7);
    sign_up(&emulator, "jane", &mut phone).await;
    let ask = |ids: String, tenant: String| {
        let url = format!(
            "{}/client/user-authenticators/passkey?credentialIds={ids}",
            emulator.api_url()
        );
        async move {
            let answer = reqwest::Client::new()
                .get(url)
                .header(
                    "authorization",
                    format!(
                        "Basic {}",
                        base64::engine::general_purpose::STANDARD.encode(tenant)
                    ),
                )
                .send()
                .await
                .unwrap();
            (
                answer.status().as_u16(),
                answer.json::<Value>().await.unwrap(),
            )
        }
    };
    let id = b64(&phone.credential_id);
    let tenant = emulator.tenant_id().to_owned();
    let (status, found) = ask(format!("unknown,{id}"), tenant.clone()).await;
    assert_eq!(status, 200, "{found}");
    assert_eq!(found["credentialId"], id.as_str());
    assert!(found["verifiedAt"].is_string());
    assert_eq!(ask("unknown".into(), tenant).await.0, 404);
    assert_eq!(ask(id, "another-tenant".into()).await.0, 401);
}

#[tokio::test]
async fn a_sign_in_without_a_token_needs_this_tenant_and_a_user_handle() {
    let emulator = start().await;
    let mut phone = SoftAuthenticator::new(7);
    sign_up(&emulator, "jane", &mut phone).await;
    for tenant in ["another-tenant", ""] {
        let (status, answer) =
            tenant_post(&emulator, tenant, "/challenge", json!({"action": "signIn"})).await;
        assert_eq!(
            (status, answer["errorCode"].as_str()),
            (401, Some("unauthorized"))
        );
    }
    let (status, _) = tenant_post(&emulator, emulator.tenant_id(), "/challenge", json!({})).await;
    assert_eq!(status, 400);

    // The options of a sign-in are given once.
    let tenant = emulator.tenant_id();
    let (_, challenge) =
        tenant_post(&emulator, tenant, "/challenge", json!({"action": "signIn"})).await;
    let path = "/user-authenticators/passkey/authentication-options";
    let body = json!({"challengeId": challenge["challengeId"]});
    assert_eq!(
        tenant_post(&emulator, tenant, path, body.clone()).await.0,
        200
    );
    assert_eq!(tenant_post(&emulator, tenant, path, body).await.0, 400);

    // An assertion that does not name its user.
    let options = sign_in_options(&emulator, "signIn").await;
    let mut assertion = phone.get(&options["options"], "jane");
    assertion["response"]
        .as_object_mut()
        .unwrap()
        .remove("userHandle");
    assert_refused(
        verify_sign_in(&emulator, &options, &assertion).await,
        "userHandle",
    );

    // A token's ceremony cannot be finished as a sign-in.
    let (_, options) = step_up(&emulator, "jane").await;
    let assertion = phone.get(&options["options"], "jane");
    assert_refused(
        verify_sign_in(&emulator, &options, &assertion).await,
        "another ceremony",
    );
}
