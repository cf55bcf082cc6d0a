//! Webhook verification: the shared test vectors, key rotation, tolerance, header parsing,
//! secrecy and property tests. The Axum extractor is `axum-authsignal`'s (its gate tests).

mod events;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use authsignal::webhook::{
    DEFAULT_TOLERANCE, LogEventBatch, MAX_SIGNATURES, WebhookError, WebhookEvent, WebhookPayload,
    WebhookVerifier, signature_header,
};
use base64::Engine;
use base64::engine::general_purpose::STANDARD_NO_PAD;
use events::{event_body, unix_now};
use hmac::{Hmac, KeyInit, Mac};
use http::HeaderValue;
use proptest::prelude::*;
use serde_json::{Value, json};

const VECTORS: &str = include_str!("../fixtures/webhook-vectors.json");

fn vectors() -> Value {
    serde_json::from_str(VECTORS).expect("webhook-vectors.json is JSON")
}

fn field<'a>(case: &'a Value, key: &str) -> &'a str {
    case[key]
        .as_str()
        .unwrap_or_else(|| panic!("case {} has no string {key}", case["name"]))
}

/// The verifier a vector asks for: its secret, and its tolerance in minutes (`<= 0`: none).
fn verifier_for(case: &Value) -> WebhookVerifier {
    let minutes = case["tolerance_minutes"]
        .as_i64()
        .unwrap_or_else(|| panic!("case {} has no tolerance_minutes", case["name"]));
    let verifier = WebhookVerifier::new(field(case, "secret"));
    if minutes <= 0 {
        verifier.without_tolerance()
    } else {
        verifier.with_tolerance(Duration::from_secs(minutes.unsigned_abs() * 60))
    }
}

fn at(seconds: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(seconds)
}

/// Signs the way Authsignal does, independently of the crate's own `signature_header`.
fn sign(secret: &str, t: u64, body: &[u8]) -> String {
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).expect("any key");
    mac.update(format!("{t}.").as_bytes());
    mac.update(body);
    STANDARD_NO_PAD.encode(mac.finalize().into_bytes())
}

#[test]
fn valid_vectors_verify_and_decode() {
    let vectors = vectors();
    let cases = vectors["valid"].as_array().expect("valid cases");
    assert_eq!(cases.len(), 7, "every valid vector is covered");
    for case in cases {
        let name = field(case, "name");
        let verifier = verifier_for(case);
        let (header, payload) = (field(case, "header"), field(case, "payload"));
        verifier
            .verify(header, payload)
            .unwrap_or_else(|err| panic!("{name}: {err}"));
        // Also as a `HeaderValue` and with the body as bytes, as the extractor sees them.
        let value = HeaderValue::from_str(header).expect("ASCII header");
        verifier
            .verify(&value, payload.as_bytes())
            .unwrap_or_else(|err| panic!("{name} (HeaderValue): {err}"));

        let parsed: Value = serde_json::from_str(payload).expect("payload is JSON");
        match verifier.construct_payload(header, payload) {
            Ok(WebhookPayload::Event(event)) => {
                assert!(
                    parsed.get("records").is_none(),
                    "{name}: decoded as an event"
                );
                assert_eq!(event.event_type, parsed["type"], "{name}");
                assert_eq!(event.id, parsed["id"], "{name}");
                assert_eq!(event.tenant_id, parsed["tenantId"], "{name}");
                assert_eq!(event.data, parsed["data"], "{name}: data kept as is");
                if let Some(action) = case.get("expect_data_actionCode") {
                    assert_eq!(event.data["actionCode"], *action, "{name}");
                }
                if let Some(version) = case.get("expect_version") {
                    assert_eq!(Some(u64::from(event.version)), version.as_u64(), "{name}");
                }
                if let Some(event_type) = case.get("expect_type") {
                    assert_eq!(event.event_type, *event_type, "{name}");
                }
                let single = verifier
                    .construct_event(header, payload)
                    .unwrap_or_else(|err| panic!("{name}: {err}"));
                assert_eq!(single, event, "{name}");
            }
            Ok(WebhookPayload::LogEventBatch(batch)) => {
                assert_eq!(name, "log_event_batch", "{name}: decoded as a batch");
                assert_eq!(batch.records.len(), 1, "{name}");
                assert_eq!(batch.records[0].event_type, "action.log_created", "{name}");
                assert_eq!(
                    batch.records[0].record["customVariables"]["journeyType"], "accountRecovery",
                    "{name}"
                );
                let err = verifier.construct_event(header, payload).unwrap_err();
                assert_eq!(err, WebhookError::LogEventBatch, "{name}");
                assert!(
                    err.to_string()
                        .starts_with("Payload is a batch of log events."),
                    "{name}: {err}"
                );
                let direct: LogEventBatch = verifier
                    .construct_log_event_batch(header, payload)
                    .unwrap_or_else(|err| panic!("{name}: {err}"));
                assert_eq!(direct, batch, "{name}");
            }
            Ok(other) => panic!("{name}: unexpected payload {other:?}"),
            Err(err) => panic!("{name}: {err}"),
        }
    }
}

#[test]
fn nested_data_values_survive_decoding() {
    let vectors = vectors();
    let case = vectors["valid"]
        .as_array()
        .and_then(|cases| {
            cases
                .iter()
                .find(|c| c["name"] == "custom_variables_nested_json")
        })
        .expect("custom_variables_nested_json");
    let event = verifier_for(case)
        .construct_event(field(case, "header"), field(case, "payload"))
        .expect("verifies");
    let custom = &event.data["customVariables"];
    assert_eq!(custom["retryCount"], 2);
    assert_eq!(custom["isRecovery"], true);
    assert_eq!(custom["channels"], json!(["sms", "email"]));
    assert_eq!(custom["action_journeyType"], "ForgotChangePassword");
}

#[test]
fn invalid_vectors_are_rejected_with_their_reason() {
    let vectors = vectors();
    let cases = vectors["invalid"].as_array().expect("invalid cases");
    assert_eq!(cases.len(), 8, "every invalid vector is covered");
    let now = unix_now().to_string();
    for case in cases {
        let name = field(case, "name");
        let header = field(case, "header").replace("<NOW>", &now);
        let payload = field(case, "payload");
        let expected = field(case, "expect_error");
        let verifier = verifier_for(case);
        let err = verifier
            .verify(&header, payload)
            .expect_err(&format!("{name} must be rejected"));
        assert_eq!(err.to_string(), expected, "{name}");
        let err = verifier
            .construct_payload(&header, payload)
            .expect_err(&format!("{name} must not decode"));
        assert_eq!(err.to_string(), expected, "{name} (construct_payload)");
    }
}

#[test]
fn upstream_vectors_parse_but_do_not_verify_without_their_secret() {
    let vectors = vectors();
    let upstream = &vectors["upstream_unverifiable"];
    let verifier = WebhookVerifier::new("test-secret-key-123").without_tolerance();
    for (header, payload) in [("p1_header", "p1"), ("p2_header", "p2")] {
        let err = verifier
            .verify(field(upstream, header), field(upstream, payload))
            .unwrap_err();
        // A mismatch, not a format error: the header itself is well formed.
        assert_eq!(err, WebhookError::Mismatch, "{header}");
    }
}

#[test]
fn signature_header_reproduces_the_single_signature_vectors() {
    let vectors = vectors();
    let mut checked = 0;
    for case in vectors["valid"].as_array().expect("valid cases") {
        let header = field(case, "header");
        if header.matches("v2=").count() != 1 {
            continue;
        }
        let t = case["t"].as_u64().expect("t");
        let signed = signature_header(field(case, "secret"), t, field(case, "payload"));
        assert_eq!(signed, header, "{}", case["name"]);
        checked += 1;
    }
    assert_eq!(checked, 5);
}

#[test]
fn key_rotation_accepts_old_and_new_secret() {
    let body = event_body("evt-rotation");
    let t = 1_740_000_000;
    let now = at(t);
    let with_new = format!("t={t},v2={}", sign("new-secret", t, body.as_bytes()));
    let with_old = format!("t={t},v2={}", sign("old-secret", t, body.as_bytes()));
    let with_other = format!("t={t},v2={}", sign("other-secret", t, body.as_bytes()));

    let rotating = WebhookVerifier::new("new-secret").with_secret("old-secret");
    assert_eq!(rotating.verify_at(&with_new, &body, now), Ok(()));
    assert_eq!(rotating.verify_at(&with_old, &body, now), Ok(()));
    assert_eq!(
        rotating.verify_at(&with_other, &body, now),
        Err(WebhookError::Mismatch)
    );

    let rotated = WebhookVerifier::new("new-secret");
    assert_eq!(
        rotated.verify_at(&with_old, &body, now),
        Err(WebhookError::Mismatch),
        "once the old secret is dropped, its signatures fail"
    );
    // Both sides rotating at once: Authsignal's two signatures, our two secrets.
    let both = format!(
        "t={t},v2={},v2={}",
        sign("other-secret", t, body.as_bytes()),
        sign("old-secret", t, body.as_bytes())
    );
    assert_eq!(rotating.verify_at(&both, &body, now), Ok(()));
}

#[test]
fn tolerance_applies_to_past_and_future_with_inclusive_bounds() {
    let body = "{}";
    let t = 1_740_000_000;
    let header = format!("t={t},v2={}", sign("s", t, body.as_bytes()));
    let verifier = WebhookVerifier::new("s");
    assert_eq!(verifier.tolerance(), Some(DEFAULT_TOLERANCE));
    let limit = DEFAULT_TOLERANCE.as_secs();
    for (now, ok) in [
        (t, true),
        (t + limit, true),
        (t + limit + 1, false),
        (t - limit, true),
        (t - limit - 1, false),
        (0, false),
    ] {
        let result = verifier.verify_at(&header, body, at(now));
        if ok {
            assert_eq!(result, Ok(()), "now = t {:+}", now as i64 - t as i64);
        } else {
            assert_eq!(
                result,
                Err(WebhookError::OutsideTolerance),
                "now = t {:+}",
                now as i64 - t as i64
            );
        }
    }

    let custom = WebhookVerifier::new("s").with_tolerance(Duration::from_secs(10));
    assert_eq!(custom.verify_at(&header, body, at(t + 10)), Ok(()));
    assert_eq!(
        custom.verify_at(&header, body, at(t + 11)),
        Err(WebhookError::OutsideTolerance)
    );

    for disabled in [
        WebhookVerifier::new("s").with_tolerance(Duration::ZERO),
        WebhookVerifier::new("s").without_tolerance(),
    ] {
        assert_eq!(disabled.tolerance(), None);
        assert_eq!(disabled.verify_at(&header, body, at(0)), Ok(()));
        assert_eq!(disabled.verify_at(&header, body, at(u64::MAX / 4)), Ok(()));
    }
}

#[test]
fn header_edge_cases_are_errors_not_panics() {
    let body = "{}";
    let t = 1_740_000_000u64;
    let good = sign("s", t, body.as_bytes());
    let verifier = WebhookVerifier::new("s");
    let now = at(t);
    let format = Err(WebhookError::InvalidFormat);
    let mismatch = Err(WebhookError::Mismatch);
    let many = |n: usize| {
        let mut header = format!("t={t}");
        for _ in 0..n - 1 {
            header.push_str(",v2=AAAA");
        }
        header.push_str(&format!(",v2={good}"));
        header
    };
    let cases: Vec<(&str, String, Result<(), WebhookError>)> = vec![
        ("canonical", format!("t={t},v2={good}"), Ok(())),
        (
            "spaces around parts",
            format!(" t={t} , v2={good} "),
            Ok(()),
        ),
        ("padded signature", format!("t={t},v2={good}="), Ok(())),
        ("v2 before t", format!("v2={good},t={t}"), Ok(())),
        (
            "unknown keys ignored",
            format!("t={t},v1=abc,v2={good},x"),
            Ok(()),
        ),
        ("at most MAX_SIGNATURES", many(MAX_SIGNATURES), Ok(())),
        (
            "more than MAX_SIGNATURES",
            many(MAX_SIGNATURES + 1),
            format.clone(),
        ),
        ("non-numeric t", format!("t=abc,v2={good}"), format.clone()),
        ("negative t", format!("t=-{t},v2={good}"), format.clone()),
        ("plus-signed t", format!("t=+{t},v2={good}"), format.clone()),
        ("empty t", format!("t=,v2={good}"), format.clone()),
        (
            "overflowing t",
            format!("t={}0,v2={good}", u64::MAX),
            format.clone(),
        ),
        (
            "t beyond any clock",
            format!("t={},v2={good}", u64::MAX),
            format.clone(),
        ),
        (
            "duplicate t",
            format!("t={t},t={t},v2={good}"),
            format.clone(),
        ),
        ("only commas", ",,,,".to_owned(), format.clone()),
        ("only equals", "=".to_owned(), format.clone()),
        (
            "huge",
            format!("t={t},v2={good},{}", "a".repeat(100_000)),
            format.clone(),
        ),
        ("empty v2", format!("t={t},v2="), mismatch.clone()),
        // 8 characters decode to exactly 6 bytes: a prefix a truncating comparison would take.
        (
            "truncated v2",
            format!("t={t},v2={}", &good[..8]),
            mismatch.clone(),
        ),
        (
            "url-safe base64",
            format!("t={t},v2={}", good.replace('+', "-").replace('/', "_")),
            {
                if good.contains(['+', '/']) {
                    mismatch.clone()
                } else {
                    Ok(())
                }
            },
        ),
        (
            "long v2",
            format!("t={t},v2={}", "A".repeat(1_000)),
            mismatch.clone(),
        ),
        (
            "other timestamp",
            format!("t={},v2={good}", t + 1),
            mismatch.clone(),
        ),
        (
            "upper-case keys",
            format!("T={t},V2={good}"),
            format.clone(),
        ),
    ];
    for (name, header, expected) in cases {
        assert_eq!(verifier.verify_at(&header, body, now), expected, "{name}");
    }

    // Bytes that are not UTF-8 (obs-text) are a format error too.
    let mut raw = format!("t={t},v2={good}").into_bytes();
    raw.push(0xFF);
    let value = HeaderValue::from_bytes(&raw).expect("obs-text is a valid header value");
    assert_eq!(verifier.verify_at(&value, body, now), format);
}

#[test]
fn debug_and_errors_never_show_a_secret() {
    let verifier = WebhookVerifier::new("first-SECRET-value")
        .with_secret(secrecy::SecretString::from("second-SECRET-value"));
    let debug = format!("{verifier:?}");
    assert!(!debug.contains("SECRET"), "{debug}");
    assert!(debug.contains("[redacted; 2]"), "{debug}");

    let body = event_body("evt-1");
    let header = signature_header("first-SECRET-value", unix_now(), &body);
    let errors = [
        verifier.verify("garbage", &body).unwrap_err(),
        verifier.verify("t=1,v2=x", &body).unwrap_err(),
        verifier
            .verify(format!("t={},v2=AAAA", unix_now()), &body)
            .unwrap_err(),
        verifier.construct::<u8>(&header, &body).unwrap_err(),
    ];
    for err in errors {
        for text in [format!("{err}"), format!("{err:?}"), err.code().to_owned()] {
            assert!(!text.contains("SECRET"), "{text}");
        }
    }
}

#[test]
fn payload_errors_keep_the_body_out() {
    let verifier = WebhookVerifier::new("s");
    let body = r#"{"version":"one-time-code-991337","type":"x"}"#;
    let header = signature_header("s", unix_now(), body);
    let err = verifier.construct_event(&header, body).unwrap_err();
    let WebhookError::Payload { reason } = &err else {
        panic!("expected a payload error, got {err:?}");
    };
    assert!(reason.contains("invalid type"), "{reason}");
    assert!(!err.to_string().contains("991337"), "{err}");

    let err = verifier.construct_event(&header, "not json {").unwrap_err();
    assert_eq!(
        err,
        WebhookError::Mismatch,
        "the body is checked before it is parsed"
    );
}

#[test]
fn empty_secret_never_verifies() {
    let body = "{}";
    let t = unix_now();
    let header = format!("t={t},v2={}", sign("", t, body.as_bytes()));
    assert_eq!(
        WebhookVerifier::new("").verify(&header, body),
        Err(WebhookError::Mismatch)
    );
    // But an empty secret does not stop a real one from working.
    let good = signature_header("real", t, body);
    assert_eq!(
        WebhookVerifier::new("")
            .with_secret("real")
            .verify(&good, body),
        Ok(())
    );
}

/// The two halves a framework's extractor uses: the header first (format and time, no
/// body), then the signature over the raw body and the decoding. The second half checks
/// the signature itself: a checked header is no proof that the body is authentic.
#[test]
fn check_header_then_verify_body_is_verify_then_construct() {
    let verifier = WebhookVerifier::new("hook-secret");
    let body = event_body("evt-9");
    let t = unix_now();
    let header = signature_header("hook-secret", t, body.as_bytes());
    let checked = verifier
        .check_header(header.as_bytes(), SystemTime::now())
        .expect("a well-formed, current header");
    assert_eq!(checked.signed_at(), at(t));
    let event: WebhookEvent = verifier
        .verify_body(&checked, body.as_bytes())
        .expect("authentic");
    assert_eq!(event.id, "evt-9");

    let tampered = body.replace("evt-9", "evt-0");
    assert_eq!(
        verifier.verify_body::<WebhookEvent>(&checked, tampered.as_bytes()),
        Err(WebhookError::Mismatch)
    );
    let forged = signature_header("guessed", t, body.as_bytes());
    let checked = verifier
        .check_header(forged.as_bytes(), SystemTime::now())
        .expect("the format and time are fine");
    assert_eq!(
        verifier.verify_body::<WebhookEvent>(&checked, body.as_bytes()),
        Err(WebhookError::Mismatch)
    );
    let stale = signature_header("hook-secret", t - 3600, body.as_bytes());
    assert_eq!(
        verifier
            .check_header(stale.as_bytes(), SystemTime::now())
            .err(),
        Some(WebhookError::OutsideTolerance)
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_headers_never_panic(
        text in ".{0,300}",
        shaped in "(t=[-+0-9a-z]{0,22}|v2=[A-Za-z0-9+/=_-]{0,50}|[a-z0-9]{0,3}=?[^,]{0,5}| ){0,12}"
            .prop_map(|s| s.replace(' ', ",")),
        bytes in proptest::collection::vec(any::<u8>(), 0..300),
        body in proptest::collection::vec(any::<u8>(), 0..64),
    ) {
        let verifier = WebhookVerifier::new("s").without_tolerance();
        // None of these is signed with "s": whatever the shape, the answer is an error.
        prop_assert!(verifier.verify(&text, &body).is_err());
        prop_assert!(verifier.verify(&shaped, &body).is_err());
        prop_assert!(verifier.verify(&bytes, &body).is_err());
        if let Ok(value) = HeaderValue::from_bytes(&bytes) {
            prop_assert!(verifier.construct_payload(&value, &body).is_err());
        }
    }

    #[test]
    fn a_signature_never_verifies_under_another_secret(
        secret in "[ -~]{1,40}",
        other in "[ -~]{1,40}",
        t in 0u64..4_000_000_000,
        body in proptest::collection::vec(any::<u8>(), 0..256),
    ) {
        prop_assume!(secret != other);
        let header = format!("t={t},v2={}", sign(&secret, t, &body));
        let now = at(t);
        prop_assert_eq!(WebhookVerifier::new(secret.as_str()).verify_at(&header, &body, now), Ok(()));
        prop_assert_eq!(
            WebhookVerifier::new(other.as_str()).verify_at(&header, &body, now),
            Err(WebhookError::Mismatch)
        );
    }
}
