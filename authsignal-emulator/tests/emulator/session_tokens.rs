//! Session access tokens as production signs them: RS256 with a key the emulator publishes
//! as a JWKS, the app client as `aud`. Checked here by an independent verifier
//! (`jsonwebtoken` with the published JWK, as an API gateway would), and by
//! `validateSession`, which must refuse every forgery the verifier refuses.
//!
//! `keys/` holds keys made with `openssl` for these tests and the builder's doc example
//! only (an RSA 2048 key as PKCS#8 with its public half, a 1024-bit one as PKCS#1): they
//! sign nothing anywhere else.

use std::time::Duration;

use authsignal::Authsignal;
use authsignal::types::{
    CreateSessionRequest, RevokeSessionRequest, SessionTokens, TrackAttributes,
    ValidateSessionRequest,
};
use authsignal_emulator::{ActionConfig, EmulatorHandle, SESSION_LIFETIME};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rsa::pkcs8::DecodePublicKey;
use rsa::traits::PublicKeyParts;
use serde_json::{Value, json};

use crate::emulator_util::{builder, client_verify_totp, start};

const CLIENT: &str = "web-app";
const KEY_PEM: &str = include_str!("keys/session-key.pem");
const PUBLIC_KEY_PEM: &str = include_str!("keys/session-key.pub.pem");

/// An emulator whose clock is the system's, so that a verifier checking `exp` against the
/// system clock (as `jsonwebtoken` does) sees live tokens as live.
async fn live_emulator() -> EmulatorHandle {
    builder()
        .action("withdraw", ActionConfig::challenge())
        .start()
        .await
        .expect("the emulator starts")
}

/// A session of `user` for the app client [`CLIENT`], from a passed TOTP challenge.
async fn session(emulator: &EmulatorHandle, user: &str) -> SessionTokens {
    let client = emulator.client();
    emulator.enroll_totp(user);
    let tracked = client
        .track(user, "withdraw", TrackAttributes::default())
        .await
        .unwrap();
    let code = emulator.totp_code(user).unwrap();
    let (status, verified) =
        client_verify_totp(emulator, tracked.token.unwrap().as_str(), &code).await;
    assert_eq!(status, 200, "{verified}");
    client
        .create_session(&CreateSessionRequest {
            client_id: CLIENT.into(),
            token: verified["accessToken"].as_str().unwrap().into(),
            action: None,
        })
        .await
        .unwrap()
}

async fn jwks(emulator: &EmulatorHandle) -> JwkSet {
    let response = reqwest::get(emulator.jwks_url()).await.unwrap();
    assert_eq!(response.status().as_u16(), 200);
    response.json().await.unwrap()
}

/// What an API that trusts the emulator's JWKS makes of `token` for `audience`: the key is
/// the one the header's `kid` names, and the algorithm RS256 whatever the header says.
fn verify_independently(
    jwks: &JwkSet,
    token: &str,
    audience: &str,
) -> Result<Value, jsonwebtoken::errors::Error> {
    let header = jsonwebtoken::decode_header(token)?;
    let kid = header.kid.ok_or(ErrorKind::InvalidToken)?;
    let jwk = jwks.find(&kid).ok_or(ErrorKind::InvalidToken)?;
    let key = DecodingKey::from_jwk(jwk)?;
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_audience(&[audience]);
    jsonwebtoken::decode::<Value>(token, &key, &validation).map(|data| data.claims)
}

/// `validateSession` of `token`, optionally for `client_ids`: the user id, or the error
/// code.
async fn validate(
    client: &Authsignal,
    token: &str,
    client_ids: Option<&[&str]>,
) -> Result<String, String> {
    client
        .validate_session(&ValidateSessionRequest {
            access_token: token.into(),
            client_ids: client_ids.map(|ids| ids.iter().map(|id| (*id).to_owned()).collect()),
        })
        .await
        .map(|valid| valid.user.user_id)
        .map_err(|err| {
            assert_eq!(err.status().map(|s| s.as_u16()), Some(400), "{err}");
            err.code().unwrap_or_default().to_owned()
        })
}

fn parts(token: &str) -> (Value, Value) {
    let mut parts = token.split('.');
    let mut decode = || -> Value {
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts.next().unwrap()).unwrap()).unwrap()
    };
    (decode(), decode())
}

#[tokio::test]
async fn a_session_token_verifies_with_the_published_jwks_for_its_client_only() {
    let emulator = live_emulator().await;
    let tokens = session(&emulator, "u1").await;
    let token = tokens.access_token.as_str();
    let jwks = jwks(&emulator).await;
    assert_eq!(jwks.keys.len(), 1);

    let (header, _) = parts(token);
    assert_eq!(header["alg"], "RS256");
    assert_eq!(
        header["kid"].as_str(),
        jwks.keys[0].common.key_id.as_deref()
    );
    let claims = verify_independently(&jwks, token, CLIENT).expect("the token verifies");
    assert_eq!(claims["sub"], "u1");
    assert_eq!(claims["aud"], CLIENT);
    assert_eq!(
        claims["exp"].as_u64().unwrap() - claims["iat"].as_u64().unwrap(),
        SESSION_LIFETIME.as_secs()
    );
    assert_eq!(
        verify_independently(&jwks, token, "mobile-app")
            .unwrap_err()
            .kind(),
        &ErrorKind::InvalidAudience
    );

    let client = emulator.client();
    assert_eq!(validate(&client, token, None).await, Ok("u1".into()));
    assert_eq!(
        validate(&client, token, Some(&["mobile-app", CLIENT])).await,
        Ok("u1".into())
    );
    for others in [&["mobile-app"][..], &[]] {
        assert_eq!(
            validate(&client, token, Some(others)).await,
            Err("invalid_credential".into()),
            "{others:?}"
        );
    }
}

#[tokio::test]
async fn forged_tokens_are_refused_by_the_jwks_and_by_validate_session_alike() {
    let emulator = live_emulator().await;
    let tokens = session(&emulator, "u1").await;
    let token = tokens.access_token.as_str();
    let jwks = jwks(&emulator).await;
    let client = emulator.client();
    let (header, claims) = parts(token);
    let encode = |value: &Value| URL_SAFE_NO_PAD.encode(value.to_string());
    let signature = token.rsplit('.').next().unwrap();

    // The payload changed after signing: another user.
    let mut stolen = claims.clone();
    stolen["sub"] = json!("admin");
    let tampered = format!("{}.{}.{signature}", encode(&header), encode(&stolen));
    // No signature at all.
    let unsigned = format!(
        "{}.{}.",
        encode(&json!({"alg": "none", "typ": "JWT", "kid": header["kid"]})),
        encode(&stolen)
    );
    // HS256 with the public key as the HMAC secret, in each form a confused verifier might
    // take it: the PEM, the JWKS document, the modulus.
    let jwks_text = serde_json::to_string(&jwks).unwrap();
    let modulus = match &jwks.keys[0].algorithm {
        jsonwebtoken::jwk::AlgorithmParameters::RSA(rsa) => URL_SAFE_NO_PAD.decode(&rsa.n).unwrap(),
        other => panic!("not RSA: {other:?}"),
    };
    let mut confused = Vec::new();
    for secret in [PUBLIC_KEY_PEM.as_bytes(), jwks_text.as_bytes(), &modulus] {
        let mut hs256 = Header::new(Algorithm::HS256);
        hs256.kid = header["kid"].as_str().map(str::to_owned);
        confused.push(
            jsonwebtoken::encode(&hs256, &stolen, &EncodingKey::from_secret(secret).unwrap())
                .unwrap(),
        );
    }

    for forged in [&tampered, &unsigned].into_iter().chain(&confused) {
        assert!(
            verify_independently(&jwks, forged, CLIENT).is_err(),
            "the JWKS verifier refuses {forged}"
        );
        assert_eq!(
            validate(&client, forged, None).await,
            Err("invalid_credential".into()),
            "{forged}"
        );
        // Nor does a forgery end the session it imitates.
        let revoked = client
            .revoke_session(&RevokeSessionRequest {
                access_token: forged.as_str().into(),
            })
            .await
            .unwrap_err();
        assert_eq!(revoked.code(), Some("invalid_credential"));
    }
    assert_eq!(validate(&client, token, None).await, Ok("u1".into()));
}

#[tokio::test]
async fn the_hs256_confusion_is_refused_with_the_emulators_own_key() {
    // The same attack with the supplied key's real public PEM: the form a verifier that
    // loads keys from PEM files would be confused by.
    let emulator = builder()
        .session_key_pem(KEY_PEM)
        .action("withdraw", ActionConfig::challenge())
        .start()
        .await
        .unwrap();
    let tokens = session(&emulator, "u1").await;
    let (header, mut claims) = parts(tokens.access_token.as_str());
    claims["sub"] = json!("admin");
    let mut hs256 = Header::new(Algorithm::HS256);
    hs256.kid = header["kid"].as_str().map(str::to_owned);
    let forged = jsonwebtoken::encode(
        &hs256,
        &claims,
        &EncodingKey::from_secret(PUBLIC_KEY_PEM.as_bytes()).unwrap(),
    )
    .unwrap();
    assert_eq!(
        validate(&emulator.client(), &forged, None).await,
        Err("invalid_credential".into())
    );
    assert!(verify_independently(&jwks(&emulator).await, &forged, CLIENT).is_err());
}

#[tokio::test]
async fn expired_tokens_are_refused_by_the_emulator_clock_and_by_the_jwks() {
    // Pinned in 2024: the token's `exp` is long past by the system clock.
    let emulator = start().await;
    let tokens = session(&emulator, "u1").await;
    let token = tokens.access_token.as_str();
    assert_eq!(
        verify_independently(&jwks(&emulator).await, token, CLIENT)
            .unwrap_err()
            .kind(),
        &ErrorKind::ExpiredSignature
    );
    let client = emulator.client();
    emulator.advance(SESSION_LIFETIME - Duration::from_secs(1));
    assert_eq!(validate(&client, token, None).await, Ok("u1".into()));
    emulator.advance(Duration::from_secs(1));
    assert_eq!(
        validate(&client, token, None).await,
        Err("invalid_credential".into())
    );
    // An expired token still ends its session.
    client
        .revoke_session(&RevokeSessionRequest {
            access_token: token.into(),
        })
        .await
        .unwrap();
}

#[tokio::test]
async fn a_supplied_key_is_published_and_keeps_its_kid_across_emulators() {
    let first = builder()
        .session_key_pem(KEY_PEM)
        .action("withdraw", ActionConfig::challenge())
        .start()
        .await
        .unwrap();
    let second = builder().session_key_pem(KEY_PEM).start().await.unwrap();
    let generated = builder().start().await.unwrap();
    let (first_jwks, second_jwks) = (jwks(&first).await, jwks(&second).await);
    assert_eq!(first_jwks, second_jwks);
    assert_ne!(first_jwks, jwks(&generated).await);

    // A verifier that fetched the JWKS of the emulator before a restart still accepts its
    // tokens after.
    let tokens = session(&first, "u1").await;
    let claims = verify_independently(&second_jwks, tokens.access_token.as_str(), CLIENT)
        .expect("verified with the other emulator's JWKS");
    assert_eq!(claims["sub"], "u1");
    // The published key is the supplied one's public half: the PEM's own public key
    // verifies the tokens too.
    let public = rsa::PublicKey::from_public_key_pem(PUBLIC_KEY_PEM).unwrap();
    let from_pem = DecodingKey::from_rsa_raw_components(&public.n_bytes(), &public.e_bytes());
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_audience(&[CLIENT]);
    assert!(
        jsonwebtoken::decode::<Value>(tokens.access_token.as_str(), &from_pem, &validation).is_ok()
    );
}

#[tokio::test]
async fn unusable_keys_are_refused_at_start() {
    let public_only = PUBLIC_KEY_PEM;
    let short = include_str!("keys/short-rsa-1024.pem");
    for pem in ["", "not a key", public_only, short] {
        let refused = builder().session_key_pem(pem).start().await.unwrap_err();
        assert_eq!(refused.kind(), std::io::ErrorKind::InvalidInput, "{pem}");
        assert!(
            !refused.to_string().contains("BEGIN"),
            "the key stays out of the error: {refused}"
        );
    }
    let short = builder().session_key_pem(short).start().await.unwrap_err();
    assert!(short.to_string().contains("1024 bits"), "{short}");
}

#[tokio::test]
async fn the_jwks_is_public_and_of_this_tenant_only() {
    let emulator = builder().start().await.unwrap();
    let url = emulator.jwks_url();
    assert_eq!(
        url,
        format!(
            "{}/client/public/{}/.well-known/jwks",
            emulator.api_url(),
            emulator.tenant_id()
        )
    );
    let published: Value = reqwest::get(&url).await.unwrap().json().await.unwrap();
    let key = &published["keys"][0];
    assert_eq!(
        (&key["kty"], &key["alg"], &key["use"]),
        (&json!("RSA"), &json!("RS256"), &json!("sig"))
    );
    assert_eq!(key["e"], "AQAB");
    for private in ["d", "p", "q", "dp", "dq", "qi"] {
        assert!(key.get(private).is_none(), "no {private} in {key}");
    }

    let other = url.replace(emulator.tenant_id(), "another-tenant");
    let response = reqwest::get(&other).await.unwrap();
    assert_eq!(response.status().as_u16(), 404);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "not_found", "{body}");
    assert_eq!(emulator.call_count("jwks"), 2);
}
