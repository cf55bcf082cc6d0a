//! One span per gated request, with the fields an operator needs and never the token.

use serde_json::json;

use crate::support::*;

#[tokio::test]
async fn each_gated_request_has_a_span_with_its_outcome() {
    let gate = start(|layer| layer).await;
    let body = json!({ "amount": 5000 });
    let (problem, token) = api_token(&gate, "/withdraw", "bob", &body).await;
    let key = problem["idempotencyKey"].as_str().unwrap().to_owned();
    let response = api_retry(&gate, "bob", &token, &body).await;
    assert_eq!(response.status_code(), 200);
    let logs = log_text();
    // The span closes with its fields: one for the challenge, one for the verified retry.
    let spans: Vec<&str> = logs
        .lines()
        .filter(|line| {
            line.contains("step_up{") && line.contains("user=\"bob\"") && line.contains(&key)
        })
        .filter(|line| line.contains("close"))
        .collect();
    assert!(
        spans
            .iter()
            .any(|line| line.contains("outcome=\"challenged\"")),
        "{spans:#?}"
    );
    let verified = spans
        .iter()
        .find(|line| line.contains("outcome=\"verified\""))
        .unwrap_or_else(|| panic!("{spans:#?}"));
    assert!(verified.contains("action=withdraw"), "{verified}");
    assert!(verified.contains("authsignal_ms="), "{verified}");
    assert_logs_clean(&[&token, problem["token"].as_str().unwrap()]);
}
