//! The `authsignal-emulator` program: started on a free port, driven with our client,
//! stopped by SIGTERM.

use std::process::Stdio;
use std::time::Duration;

use authsignal::Authsignal;

use authsignal::types::{TrackAttributes, UserActionState};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

const PROGRAM: &str = env!("CARGO_BIN_EXE_authsignal-emulator");

/// Runs the program with `args` and reads its banner; returns it with the printed API URL
/// and secret.
async fn launch(args: &[&str]) -> (Child, String, String) {
    let mut child = Command::new(PROGRAM)
        .args(args)
        .env_remove("AUTHSIGNAL_SECRET_KEY")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .expect("the program starts");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let (mut api_url, mut secret) = (None, None);
    let banner = async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if let Some(url) = line.strip_prefix("API URL: ") {
                api_url = Some(url.trim().to_owned());
            }
            if let Some(value) = line.strip_prefix("Secret:") {
                secret = Some(value.trim().to_owned());
                break;
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(30), banner)
        .await
        .expect("the banner within 30 s");
    // Keep draining stdout so that the program never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    (
        child,
        api_url.expect("the API URL is printed"),
        secret.expect("the secret is printed"),
    )
}

#[tokio::test]
async fn the_program_serves_the_api_with_its_config_until_sigterm() {
    let config =
        std::env::temp_dir().join(format!("emulator-config-{}.json", uuid::Uuid::new_v4()));
    std::fs::write(
        &config,
        r#"{"actions": {"withdraw": {"defaultOutcome": "CHALLENGE_REQUIRED", "promptEnrollment": true}}}"#,
    )
    .unwrap();
    let (mut child, api_url, secret) = launch(&[
        "--port",
        "0",
        "--secret",
        "sk_program_test",
        "--config",
        config.to_str().unwrap(),
    ])
    .await;
    std::fs::remove_file(&config).ok();
    assert_eq!(secret, "sk_program_test");
    assert!(
        api_url.starts_with("http://127.0.0.1:") && api_url.ends_with("/v1"),
        "{api_url}"
    );

    let client = Authsignal::builder()
        .secret_key(&secret)
        .base_url(&api_url)
        .build()
        .unwrap();
    let tracked = client
        .track("u1", "withdraw", TrackAttributes::default())
        .await
        .unwrap();
    assert_eq!(
        tracked.state,
        UserActionState::ChallengeRequired,
        "the config was read"
    );
    let url = tracked.url.unwrap();
    let origin = api_url.trim_end_matches("/v1");
    assert!(
        url.starts_with(&format!("{origin}/ui/challenge?token=")),
        "{url}"
    );
    let page = reqwest::get(&url).await.unwrap();
    assert_eq!(page.status().as_u16(), 200);
    let wrong = Authsignal::builder()
        .secret_key("wrong")
        .base_url(&api_url)
        .build()
        .unwrap();
    assert_eq!(
        wrong
            .get_user("u1")
            .await
            .unwrap_err()
            .status()
            .map(|s| s.as_u16()),
        Some(401)
    );

    #[cfg(unix)]
    {
        let pid = child.id().expect("still running").to_string();
        let sent = std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap();
        assert!(sent.success());
        let status = tokio::time::timeout(Duration::from_secs(30), child.wait())
            .await
            .expect("it stops within 30 s")
            .unwrap();
        assert!(status.success(), "a clean exit on SIGTERM: {status:?}");
    }
    #[cfg(not(unix))]
    child.kill().await.unwrap();
}

#[tokio::test]
async fn the_program_takes_faults_and_latency_from_its_config_and_over_http() {
    let config =
        std::env::temp_dir().join(format!("emulator-config-{}.json", uuid::Uuid::new_v4()));
    std::fs::write(
        &config,
        r#"{"faults": [{"operation": "getUser", "fault": "status", "status": 503, "times": 1}],
            "latencyMillis": {"getAuthenticators": 5000}}"#,
    )
    .unwrap();
    let (mut child, api_url, secret) =
        launch(&["--port", "0", "--config", config.to_str().unwrap()]).await;
    std::fs::remove_file(&config).ok();
    let client = Authsignal::builder()
        .secret_key(&secret)
        .base_url(&api_url)
        .attempt_timeout(Duration::from_millis(300))
        .retry_policy(authsignal::RetryPolicy::disabled())
        .build()
        .unwrap();
    let status = |err: authsignal::Error| err.status().map(|s| s.as_u16());
    assert_eq!(status(client.get_user("u1").await.unwrap_err()), Some(503));
    assert!(
        client.get_user("u1").await.is_ok(),
        "the config's fault hit once"
    );
    assert!(matches!(
        client.get_authenticators("u1").await.unwrap_err(),
        authsignal::Error::Timeout { .. }
    ));

    // Over HTTP, as a test in another language would.
    let http = reqwest::Client::new();
    let armed = http
        .post(format!("{api_url}/emulator/faults"))
        .basic_auth(&secret, Some(""))
        .json(&serde_json::json!({"operation": "track", "fault": "429", "retryAfterSeconds": 7}))
        .send()
        .await
        .unwrap();
    assert_eq!(armed.status().as_u16(), 200);
    let err = client
        .track("u1", "withdraw", TrackAttributes::default())
        .await
        .unwrap_err();
    assert_eq!(status(err), Some(429));
    let cleared = http
        .delete(format!("{api_url}/emulator/latency"))
        .basic_auth(&secret, Some(""))
        .send()
        .await
        .unwrap();
    assert_eq!(cleared.status().as_u16(), 200);
    assert!(client.get_authenticators("u1").await.is_ok());
    child.kill().await.unwrap();
}

#[tokio::test]
async fn the_demo_secret_is_the_default() {
    let (mut child, api_url, secret) = launch(&["--port", "0"]).await;
    assert_eq!(secret, authsignal_emulator::DEMO_SECRET);
    let client = Authsignal::builder()
        .secret_key(&secret)
        .base_url(&api_url)
        .build()
        .unwrap();
    assert!(!client.get_user("u1").await.unwrap().is_enrolled);
    child.kill().await.unwrap();
}

#[tokio::test]
async fn help_and_bad_arguments() {
    let help = Command::new(PROGRAM).arg("--help").output().await.unwrap();
    assert!(help.status.success());
    let text = String::from_utf8(help.stdout).unwrap();
    for flag in [
        "--host",
        "--port",
        "--secret",
        "--config",
        "AUTHSIGNAL_SECRET_KEY",
    ] {
        assert!(text.contains(flag), "{flag} missing from:\n{text}");
    }
    for args in [
        &["--port", "http"][..],
        &["--verbose"][..],
        &["--config", "/no/such/file.json"][..],
    ] {
        let output = Command::new(PROGRAM).args(args).output().await.unwrap();
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        assert!(!output.stderr.is_empty());
    }
}
