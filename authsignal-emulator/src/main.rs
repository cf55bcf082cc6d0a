//! `authsignal-emulator`: the local Authsignal emulator as a program.
//!
//! Serves the Server API, the client API and the pre-built UI until Ctrl-C or SIGTERM,
//! sends webhooks, and takes faults and latency from its configuration file and over
//! emulator-only routes (see `--help`).
//! Arguments are parsed by hand: a CLI crate would cost more build time than these eight
//! flags are worth.

#![forbid(unsafe_code)]

use std::net::{IpAddr, SocketAddr};
use std::process::ExitCode;

use authsignal_emulator::{DEMO_SECRET, Emulator, EmulatorConfig};

const USAGE: &str = "\
authsignal-emulator: a local Authsignal (Server API, client API, pre-built UI) for
development and tests. Not for production: its secret is printed and its data kept in
memory.

Usage: authsignal-emulator [OPTIONS]

Options:
  --host <ADDR>         address to listen on (default 127.0.0.1)
  --port <PORT>         port to listen on; 0 picks a free one (default 8787)
  --secret <SECRET>     tenant secret (default: $AUTHSIGNAL_SECRET_KEY, else the demo secret)
  --config <FILE>       JSON file of actions and rules, webhooks, and the faults and
                        latency to start with, e.g.
                        {\"actions\": {\"withdraw\": {\"defaultOutcome\": \"CHALLENGE_REQUIRED\"}},
                         \"webhooks\": {\"endpoints\": [{\"url\": \"http://127.0.0.1:3000/webhooks\"}]},
                         \"faults\": [{\"operation\": \"track\", \"fault\": \"503\", \"times\": 2}],
                         \"latencyMillis\": {\"validateChallenge\": 300}}
  --session-key <FILE>  RSA private key (PEM, 2048 bits or more) that signs session
                        access tokens; without it a key is generated each run, and
                        verifiers holding the old JWKS refuse the new tokens
  --rp-id <ID>          WebAuthn RP ID of passkeys and security keys (default: none, a
                        development relying party: RP ID localhost, any
                        http://localhost:<port> origin; the config file's
                        {\"relyingParty\": {\"id\": ..., \"origins\": [...]}} sets it too)
  --origin <ORIGIN>     an origin WebAuthn ceremonies may come from, e.g.
                        https://app.example.com; repeat for more (default with --rp-id:
                        https://<ID>)
  -h, --help            print this help

Point a client at the printed API URL with the printed secret, e.g.
  AUTHSIGNAL_API_URL=http://127.0.0.1:8787/v1 AUTHSIGNAL_SECRET_KEY=<secret>
Session access tokens (RS256) verify with the keys at the printed JWKS URL.

Emulator-only routes (real Authsignal has none), with the same Basic auth:
  GET    <API URL>/emulator/outbox[?to=<email or phone number>]   codes sent so far
  POST   <API URL>/emulator/faults   {\"operation\": \"getUser\", \"fault\": \"503\", \"times\": 1}
         faults: timeout, 500, 502, 503, 429, reset, malformed JSON, truncated JSON,
         slow body, unknown state, bad token 400, or status (with \"status\"); \"always\": true
         for every request, \"percent\": 30 for each request by chance (until cleared);
         \"*\" for every operation
  DELETE <API URL>/emulator/faults[?operation=<name>]            clears faults
  PUT    <API URL>/emulator/latency  {\"operation\": \"track\", \"millis\": 250}  (0 removes)
  DELETE <API URL>/emulator/latency                               removes every latency
";

/// What the command line asked for.
#[derive(Debug)]
struct Options {
    host: IpAddr,
    port: u16,
    secret: Option<String>,
    config: Option<String>,
    session_key: Option<String>,
    rp_id: Option<String>,
    origins: Vec<String>,
}

/// Parses the arguments; `Ok(None)` means help was asked for.
fn parse(args: impl IntoIterator<Item = String>) -> Result<Option<Options>, String> {
    let mut options = Options {
        host: IpAddr::from([127, 0, 0, 1]),
        port: 8787,
        secret: None,
        config: None,
        session_key: None,
        rp_id: None,
        origins: Vec::new(),
    };
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        // Both `--flag value` and `--flag=value`.
        let (flag, inline) = match arg.split_once('=') {
            Some((flag, value)) if flag.starts_with("--") => {
                (flag.to_owned(), Some(value.to_owned()))
            }
            _ => (arg, None),
        };
        if matches!(flag.as_str(), "-h" | "--help") {
            return Ok(None);
        }
        let mut value = || {
            inline
                .clone()
                .or_else(|| args.next())
                .ok_or_else(|| format!("{flag} needs a value"))
        };
        match flag.as_str() {
            "--host" => {
                let text = value()?;
                options.host = text
                    .parse()
                    .map_err(|_| format!("--host: not an IP address: {text}"))?;
            }
            "--port" => {
                let text = value()?;
                options.port = text
                    .parse()
                    .map_err(|_| format!("--port: not a port number: {text}"))?;
            }
            "--secret" => options.secret = Some(value()?),
            "--config" => options.config = Some(value()?),
            "--session-key" => options.session_key = Some(value()?),
            "--rp-id" => options.rp_id = Some(value()?),
            "--origin" => options.origins.push(value()?),
            other => return Err(format!("unknown argument: {other}")),
        }
    }
    Ok(Some(options))
}

fn main() -> ExitCode {
    let options = match parse(std::env::args().skip(1)) {
        Ok(Some(options)) => options,
        Ok(None) => {
            print!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            eprintln!("authsignal-emulator: {message}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let mut config = match options.config.as_deref().map(EmulatorConfig::from_file) {
        None => EmulatorConfig::default(),
        Some(Ok(config)) => config,
        Some(Err(err)) => {
            eprintln!("authsignal-emulator: cannot read the config file: {err}");
            return ExitCode::from(2);
        }
    };
    let session_key = match options.session_key.as_deref().map(std::fs::read_to_string) {
        None => None,
        Some(Ok(pem)) => Some(pem),
        Some(Err(err)) => {
            eprintln!("authsignal-emulator: cannot read the session key file: {err}");
            return ExitCode::from(2);
        }
    };
    // The flags win over the file, each for what it names.
    if let Some(rp_id) = options.rp_id {
        config.relying_party.rp_id = Some(rp_id);
    }
    if !options.origins.is_empty() {
        config.relying_party.origins = options.origins;
    }
    let secret = options
        .secret
        .or_else(|| std::env::var("AUTHSIGNAL_SECRET_KEY").ok())
        .filter(|secret| !secret.trim().is_empty())
        .unwrap_or_else(|| DEMO_SECRET.to_owned());
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("authsignal-emulator: cannot start the runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async move {
        let mut builder = Emulator::builder()
            .secret(secret)
            .config(config)
            .bind(SocketAddr::new(options.host, options.port));
        if let Some(pem) = session_key {
            builder = builder.session_key_pem(pem);
        }
        let started = builder.start().await;
        let emulator = match started {
            Ok(emulator) => emulator,
            Err(err) => {
                eprintln!("authsignal-emulator: cannot start: {err}");
                return ExitCode::FAILURE;
            }
        };
        // The secret is a demo or test secret by nature: printing it is the point.
        println!("Authsignal emulator listening on {}", emulator.origin());
        println!("API URL: {}", emulator.api_url());
        println!("Secret:  {}", emulator.secret());
        // What a page's Web SDK is configured with (`tenantId`), beside the API URL.
        println!("Tenant:  {}", emulator.tenant_id());
        println!("JWKS:    {}", emulator.jwks_url());
        wait_for_stop().await;
        println!("Shutting down");
        emulator.shutdown().await;
        ExitCode::SUCCESS
    })
}

/// Resolves on Ctrl-C, or SIGTERM on Unix.
async fn wait_for_stop() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut terminate) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = terminate.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(text: &str) -> Vec<String> {
        text.split_whitespace().map(str::to_owned).collect()
    }

    #[test]
    fn flags_parse_with_spaces_or_equals() {
        let options = parse(args(
            "--host 0.0.0.0 --port=9000 --secret s --config c.json --session-key k.pem",
        ))
        .unwrap()
        .unwrap();
        assert_eq!(options.host, IpAddr::from([0, 0, 0, 0]));
        assert_eq!(options.port, 9000);
        assert_eq!(options.secret.as_deref(), Some("s"));
        assert_eq!(options.config.as_deref(), Some("c.json"));
        assert_eq!(options.session_key.as_deref(), Some("k.pem"));
        let relying_party = parse(args(
            "--rp-id example.com --origin https://a.example.com --origin=https://b.example.com",
        ))
        .unwrap()
        .unwrap();
        assert_eq!(relying_party.rp_id.as_deref(), Some("example.com"));
        assert_eq!(
            relying_party.origins,
            ["https://a.example.com", "https://b.example.com"]
        );
        let defaults = parse(Vec::new()).unwrap().unwrap();
        assert_eq!(
            (defaults.host.to_string(), defaults.port),
            ("127.0.0.1".into(), 8787)
        );
    }

    #[test]
    fn help_and_mistakes() {
        assert!(parse(args("--help")).unwrap().is_none());
        assert!(parse(args("-h")).unwrap().is_none());
        assert!(parse(args("--port")).unwrap_err().contains("needs a value"));
        assert!(
            parse(args("--port http"))
                .unwrap_err()
                .contains("not a port")
        );
        assert!(parse(args("--verbose")).unwrap_err().contains("unknown"));
    }
}
