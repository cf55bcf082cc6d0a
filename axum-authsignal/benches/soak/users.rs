//! The soak's users, each enrolled with an authenticator app the way a custom UI enrols
//! one (the Web SDK's `totp.enroll` then `totp.verify` on the client API), so that the
//! load can answer its challenges with the right code.

use std::time::{SystemTime, UNIX_EPOCH};

use authsignal::Authsignal;

use authsignal::types::TrackAttributes;
use serde_json::{Value, json};
use totp_rs::{Algorithm, Builder, Secret, Totp};

use crate::options::Options;

/// How many users are enrolled at once.
const ENROLLING_AT_ONCE: usize = 32;

/// A user and the authenticator app they enrolled.
pub struct User {
    pub id: String,
    app: Totp,
}

impl User {
    /// The code their app shows now (the emulator keeps real time in the soak).
    pub fn code(&self) -> String {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("after 1970")
            .as_secs();
        self.app.generate(now).to_string()
    }
}

/// Enrols `options.users()` users (before any fault is armed); panics if one fails.
pub async fn enroll(options: &Options) -> Vec<User> {
    let client = Authsignal::builder()
        .secret_key(&options.secret)
        .base_url(&options.emulator_url)
        .build()
        .expect("a client of the emulator");
    let http = reqwest::Client::new();
    let ids: Vec<String> = (0..options.users())
        .map(|n| format!("soak-user-{n}"))
        .collect();
    let mut users = Vec::with_capacity(ids.len());
    for batch in ids.chunks(ENROLLING_AT_ONCE) {
        let mut enrolling = tokio::task::JoinSet::new();
        for (at, id) in batch.iter().enumerate() {
            let (client, http) = (client.clone(), http.clone());
            let (api, id) = (options.emulator_url.clone(), id.clone());
            enrolling.spawn(async move { (at, enroll_one(&client, &http, &api, &id).await) });
        }
        let mut enrolled: Vec<(usize, User)> = enrolling.join_all().await;
        enrolled.sort_by_key(|(at, _)| *at);
        users.extend(enrolled.into_iter().map(|(_, user)| user));
    }
    users
}

async fn enroll_one(client: &Authsignal, http: &reqwest::Client, api: &str, id: &str) -> User {
    // An unenrolled user's track answers a token that may enrol their first app.
    let tracked = client
        .track(id, "enroll", TrackAttributes::default())
        .await
        .expect("track answers during the setup");
    let token = tracked.token.expect("track answers a token");
    let enrolled = client_api(http, api, "user-authenticators/totp", token.as_str(), None)
        .await
        .expect("the enrolment");
    let secret = enrolled["secret"].as_str().expect("the enrolment's secret");
    let bytes = Secret::try_from_base32(secret)
        .expect("a base32 secret")
        .as_bytes()
        .to_vec();
    let app = Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_digits(6)
        .with_skew(1)
        .with_step_duration(30)
        .with_secret(bytes)
        .build()
        .expect("a TOTP app");
    let user = User {
        id: id.to_owned(),
        app,
    };
    let code = json!({ "verificationCode": user.code() });
    let verified = client_api(http, api, "verify/totp", token.as_str(), Some(code))
        .await
        .expect("the enrolment's verification");
    assert_eq!(verified["isVerified"], true, "enrolling {id}: {verified}");
    user
}

/// A client API call (`{api}/client/{path}`, the token as Bearer), its JSON answer.
pub async fn client_api(
    http: &reqwest::Client,
    api: &str,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> Result<Value, String> {
    let mut request = http.post(format!("{api}/client/{path}")).bearer_auth(token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let answer = request
        .send()
        .await
        .map_err(|err| format!("the client API ({path}): {err}"))?;
    answer
        .json()
        .await
        .map_err(|err| format!("the client API ({path}), not JSON: {err}"))
}
