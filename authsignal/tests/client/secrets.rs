//! The secret key never leaks: for random secrets, no error (on any path), no `Debug` of
//! the client or its builder, and no log line (all targets, TRACE) contains the secret or
//! its Basic-auth encoding, while the server does receive it.

use crate::common;

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use crate::common::{Reply, ResetServer, TestServer, refused_base_url};
use authsignal::types::*;
use authsignal::*;
use base64::Engine as _;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use proptest::{prop_assert, prop_assert_eq};
use serde_json::json;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::util::SubscriberInitExt as _;

/// A log sink shared by every test of this binary.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Capture {
    type Writer = Capture;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

/// Installs (once) a global subscriber that records every event of every target at TRACE,
/// `log` records included, and returns its buffer.
fn logs() -> &'static Capture {
    static LOGS: OnceLock<Capture> = OnceLock::new();
    LOGS.get_or_init(|| {
        let capture = Capture::default();
        tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_writer(capture.clone())
            .finish()
            .try_init()
            .expect("the only global subscriber of this binary");
        capture
    })
}

fn captured_logs() -> String {
    String::from_utf8_lossy(&logs().0.lock().unwrap()).into_owned()
}

/// The forms of a secret that must not appear anywhere.
fn forbidden_forms(secret: &str) -> Vec<String> {
    let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{secret}:"));
    let mut forms = vec![
        secret.to_owned(),
        secret.escape_debug().to_string(),
        encoded.clone(),
        // Without padding, as some encoders print it.
        encoded.trim_end_matches('=').to_owned(),
    ];
    forms.dedup();
    forms
}

fn check_clean(what: &str, text: &str, forms: &[String]) -> Result<(), TestCaseError> {
    for form in forms {
        prop_assert!(!text.contains(form.as_str()), "{} leaks the secret", what);
    }
    Ok(())
}

/// Checks an error's Display, Debug (plain and pretty) and every source's Display.
fn check_error(
    what: &str,
    err: &dyn std::error::Error,
    forms: &[String],
) -> Result<(), TestCaseError> {
    check_clean(&format!("{what} Display"), &err.to_string(), forms)?;
    check_clean(&format!("{what} Debug"), &format!("{err:?}"), forms)?;
    check_clean(&format!("{what} Debug"), &format!("{err:#?}"), forms)?;
    let mut source = err.source();
    while let Some(inner) = source {
        check_clean(&format!("{what} source"), &inner.to_string(), forms)?;
        source = inner.source();
    }
    Ok(())
}

struct Servers {
    api: TestServer,
    never: TestServer,
    reset: ResetServer,
    refused: String,
}

async fn servers() -> Servers {
    let api = TestServer::start(|request, _| match request.path_and_query.as_str() {
        "/v1/users/e400" => Reply::json(
            400,
            json!({"error": "invalid_request", "errorDescription": "Bad request."}),
        ),
        "/v1/users/e401" => Reply::json(
            401,
            json!({"error": "unauthorized", "errorCode": "unauthorized", "errorDescription": "The request is unauthorized."}),
        ),
        "/v1/users/e500" => Reply::raw(500, "<html>Internal Server Error</html>"),
        "/v1/users/e429" => {
            Reply::json(429, json!({"error": "too_many_requests"})).header("Retry-After", "30")
        }
        // A track answer without `state`.
        "/v1/users/decode/actions/signIn" => Reply::json(
            200,
            json!({"idempotencyKey": "k", "token": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1In0.c2ln"}),
        ),
        _ => Reply::json(200, json!({"isEnrolled": true})),
    })
    .await;
    Servers {
        api,
        never: TestServer::fixed(Reply::never()).await,
        reset: ResetServer::start().await,
        refused: refused_base_url().await,
    }
}

fn builder(secret: &str, base_url: &str) -> AuthsignalBuilder {
    Authsignal::builder()
        .secret_key(secret)
        .base_url(base_url)
        .retry_policy(common::fast_retry())
}

/// Every error path with one secret.
async fn check_secret(servers: &Servers, secret: &str) -> Result<(), TestCaseError> {
    let forms = forbidden_forms(secret);
    let mut errors: Vec<(&str, Error)> = Vec::new();

    if secret.trim().is_empty() {
        let err = builder(secret, &servers.api.base_url).build().unwrap_err();
        prop_assert_eq!(&err, &ConfigError::MissingSecret);
        errors.push(("missing secret", err.into()));
    } else {
        let api = builder(secret, &servers.api.base_url);
        check_clean("builder Debug", &format!("{api:?}"), &forms)?;
        check_clean("builder Debug", &format!("{api:#?}"), &forms)?;
        let client = api.build().expect("builds");
        check_clean("client Debug", &format!("{client:?}"), &forms)?;
        check_clean("client Debug", &format!("{client:#?}"), &forms)?;
        let slow = builder(secret, &servers.never.base_url)
            .attempt_timeout(Duration::from_millis(20))
            .deadline(Duration::from_millis(50))
            .build()
            .unwrap();
        let reset = builder(secret, &servers.reset.base_url).build().unwrap();
        let refused = builder(secret, &servers.refused).build().unwrap();
        let validate = ValidateChallengeRequest {
            token: "token".into(),
            ..Default::default()
        };

        let before = servers.api.count();
        let (e400, e401, e500, e429, decode, ok) = tokio::join!(
            client.get_user("e400"),
            client.get_user("e401"),
            client.get_user("e500"),
            client.get_user("e429"),
            client.track("decode", "signIn", TrackAttributes::default()),
            client.get_user("ok"),
        );
        let (timeout, refused_err, reset_get, reset_validate) = tokio::join!(
            slow.get_user("slow"),
            refused.get_user("u"),
            reset.get_user("u"),
            reset.validate_challenge(&validate),
        );
        prop_assert!(ok.is_ok());
        for (what, result, expected) in [
            ("400", e400, 400u16),
            ("401", e401, 401),
            ("500", e500, 500),
            ("429", e429, 429),
        ] {
            let err = result.unwrap_err();
            prop_assert_eq!(err.status().map(|s| s.as_u16()), Some(expected));
            errors.push((what, err));
        }
        let decode = decode.unwrap_err();
        prop_assert!(matches!(decode, Error::Decode(_)), "{:?}", decode);
        errors.push(("decode", decode));
        let timeout = timeout.unwrap_err();
        let is_timeout = matches!(timeout, Error::Timeout { .. });
        prop_assert!(is_timeout, "{:?}", timeout);
        errors.push(("timeout", timeout));
        for (what, result) in [
            ("refused", refused_err.map(drop)),
            ("reset GET", reset_get.map(drop)),
            ("reset POST", reset_validate.map(drop)),
        ] {
            let err = result.unwrap_err();
            let is_connection = matches!(err, Error::Connection { .. });
            prop_assert!(is_connection, "{}: {:?}", what, err);
            errors.push((what, err));
        }
        let invalid = client.get_user("..").await.unwrap_err();
        let is_invalid = matches!(invalid, Error::InvalidArgument { .. });
        prop_assert!(is_invalid, "{:?}", invalid);
        errors.push(("invalid argument", invalid));

        // The secret did reach the server, as `Basic base64("<secret>:")`.
        let requests = servers.api.requests();
        let sent = &requests[before..];
        prop_assert!(sent.len() >= 6);
        let expected = common::basic_auth(secret);
        for request in sent {
            prop_assert_eq!(request.header("authorization"), Some(expected.as_str()));
        }
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(expected.strip_prefix("Basic ").unwrap())
            .unwrap();
        prop_assert_eq!(decoded, format!("{secret}:").into_bytes());
    }

    // Configuration errors that involve the secret.
    let config_errors: Vec<(&str, Result<Authsignal, ConfigError>)> = vec![
        (
            "invalid secret",
            builder(&format!("{secret}\n"), &servers.api.base_url).build(),
        ),
        (
            "bad scheme",
            builder(secret, "ftp://api.authsignal.com/v1").build(),
        ),
        (
            "credentials in the URL",
            builder(
                secret,
                &format!(
                    "https://user:{}@api.authsignal.com/v1",
                    percent_encoding::utf8_percent_encode(
                        secret,
                        percent_encoding::NON_ALPHANUMERIC
                    )
                ),
            )
            .build(),
        ),
        ("not a URL", builder(secret, &format!("::{secret}")).build()),
        (
            "zero deadline",
            builder(secret, &servers.api.base_url)
                .deadline(Duration::ZERO)
                .build(),
        ),
    ];
    for (what, result) in config_errors {
        let err = result.unwrap_err();
        check_error(what, &err, &forms)?;
        errors.push((what, err.into()));
    }
    if !secret.trim().is_empty() {
        let err = Authsignal::new(format!("{secret}\r")).unwrap_err();
        prop_assert!(matches!(err, Error::Config(ConfigError::InvalidSecret)));
        errors.push(("Authsignal::new", err));
    }

    for (what, err) in &errors {
        check_error(what, err, &forms)?;
    }
    check_clean("the logs", &captured_logs(), &forms)?;
    Ok(())
}

#[test]
fn the_secret_never_leaks_property() {
    logs();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let servers = runtime.block_on(servers());
    let mut runner = TestRunner::new(Config {
        cases: 64,
        failure_persistence: None,
        ..Config::default()
    });
    runner
        .run(&"[ -~]{8,64}", |secret| {
            runtime.block_on(check_secret(&servers, &secret))
        })
        .unwrap();
    // The capture works: the client's own events (and the transport's) were recorded.
    let logs = captured_logs();
    assert!(
        logs.contains("authsignal call failed"),
        "no client events captured"
    );
    assert!(
        logs.contains("TRACE") && (logs.contains("reqwest") || logs.contains("hyper")),
        "no transport-level events captured"
    );
}

#[tokio::test]
async fn a_blank_secret_is_a_missing_secret_and_leaks_nothing() {
    logs();
    let servers = servers().await;
    check_secret(&servers, "        ").await.unwrap();
    // A fixed secret with characters that `Debug` escapes.
    check_secret(&servers, "sk_\"quoted\\back\"_0123")
        .await
        .unwrap();
}
