//! `track` decides by the action's rules, lets unenrolled users through, is idempotent;
//! actions can be read, updated and queried.

use std::time::Duration;

use authsignal::Error;
use authsignal::types::{
    QueryUserActionsRequest, TrackAttributes, UpdateActionRequest, UserActionState,
};
use authsignal_emulator::{ActionConfig, Condition, EmulatorConfig, Outcome, Rule};
use reqwest::Method;
use serde_json::json;

use crate::emulator_util::{builder, raw, t0};

fn custom(value: serde_json::Value) -> Option<authsignal::types::CustomData> {
    value.as_object().cloned()
}

#[tokio::test]
async fn rules_decide_first_match_wins_else_the_default() {
    let withdraw = ActionConfig::allow()
        .rule(
            Rule::new("blocked-ip", Outcome::Block).when(Condition::ip_address_in(["203.0.113.9"])),
        )
        .rule(
            Rule::new("big", Outcome::ChallengeRequired)
                .name("Large amount")
                .when(Condition::custom_above("amount", 1000.0)),
        )
        .rule(
            Rule::new("nz", Outcome::ReviewRequired)
                .when(Condition::custom_equals("country", "NZ")),
        )
        .rule(
            Rule::new("new-device", Outcome::ChallengeRequired)
                .when(Condition::DeviceIdNotIn(vec!["d-known".into()])),
        );
    let emulator = builder()
        .action("withdraw", withdraw)
        .start()
        .await
        .unwrap();
    emulator.enroll_totp("u1");
    let client = emulator.client();
    let decide = |attributes: TrackAttributes| {
        let client = client.clone();
        async move {
            let answer = client.track("u1", "withdraw", attributes).await.unwrap();
            (answer.state, answer.rule_ids.unwrap_or_default())
        }
    };
    let known = || TrackAttributes {
        device_id: Some("d-known".into()),
        ..TrackAttributes::default()
    };
    assert_eq!(
        decide(TrackAttributes {
            ip_address: Some("203.0.113.9".into()),
            custom: custom(json!({"amount": 5000})),
            ..known()
        })
        .await,
        (UserActionState::Block, vec!["blocked-ip".to_owned()])
    );
    assert_eq!(
        decide(TrackAttributes {
            custom: custom(json!({"amount": 5000, "country": "NZ"})),
            ..known()
        })
        .await,
        (UserActionState::ChallengeRequired, vec!["big".to_owned()])
    );
    assert_eq!(
        decide(TrackAttributes {
            custom: custom(json!({"amount": 10, "country": "NZ"})),
            ..known()
        })
        .await
        .0,
        UserActionState::ReviewRequired
    );
    assert_eq!(
        decide(TrackAttributes {
            custom: custom(json!({"amount": 10})),
            ..known()
        })
        .await,
        (UserActionState::Allow, vec![])
    );
    assert_eq!(
        decide(TrackAttributes::default()).await.0,
        UserActionState::ChallengeRequired,
        "no deviceId is not a known device"
    );

    // getAction reports the rule that decided.
    let tracked = client
        .track(
            "u1",
            "withdraw",
            TrackAttributes {
                custom: custom(json!({"amount": 1000.5})),
                ..known()
            },
        )
        .await
        .unwrap();
    let details = client
        .get_action("u1", "withdraw", &tracked.idempotency_key)
        .await
        .unwrap();
    let rules = details.rules.unwrap();
    assert_eq!(rules[0].rule_id, "big");
    assert_eq!(rules[0].name, "Large amount");
    assert_eq!(details.rule_ids, Some(vec!["big".to_owned()]));
}

/// A rule compares a number data point with numbers: text never satisfies it, whatever it
/// reads as, so an app that sends an amount as text is allowed here, not challenged, and
/// its tests fail.
#[tokio::test]
async fn a_string_amount_never_matches_a_number_rule() {
    let withdraw = ActionConfig::allow().rule(
        Rule::new("big", Outcome::ChallengeRequired)
            .when(Condition::custom_above("amount", 1000.0)),
    );
    let emulator = builder()
        .action("withdraw", withdraw)
        .start()
        .await
        .unwrap();
    emulator.enroll_totp("u1");
    let client = emulator.client();
    let decide = |amount: serde_json::Value| {
        let client = client.clone();
        async move {
            let attributes = TrackAttributes {
                custom: custom(json!({ "amount": amount })),
                ..TrackAttributes::default()
            };
            let answer = client.track("u1", "withdraw", attributes).await.unwrap();
            (answer.state, answer.rule_ids.unwrap_or_default())
        }
    };
    for text in [
        "5000", " 5000", "5000 ", "\t5000", "5000\n", "+5000", "5e3", "1000.5",
    ] {
        assert_eq!(
            decide(json!(text)).await,
            (UserActionState::Allow, vec![]),
            "{text:?}"
        );
    }
    for number in [json!(5000), json!(5000.0), json!(1000.5)] {
        assert_eq!(
            decide(number.clone()).await,
            (UserActionState::ChallengeRequired, vec!["big".to_owned()]),
            "{number}"
        );
    }
}

#[tokio::test]
async fn an_unenrolled_user_is_allowed_unless_the_action_prompts_enrollment() {
    let emulator = builder()
        .action("withdraw", ActionConfig::challenge())
        .action("signIn", ActionConfig::challenge().prompt_enrollment(true))
        .action("transfer", ActionConfig::block())
        .start()
        .await
        .unwrap();
    let client = emulator.client();
    let withdraw = client
        .track("new-user", "withdraw", TrackAttributes::default())
        .await
        .unwrap();
    assert_eq!(withdraw.state, UserActionState::Allow);
    assert!(!withdraw.is_enrolled);
    assert!(withdraw.token.is_some(), "a token in every state");
    assert!(withdraw.url.is_some(), "a url in every state");
    let sign_in = client
        .track("new-user", "signIn", TrackAttributes::default())
        .await
        .unwrap();
    assert_eq!(sign_in.state, UserActionState::ChallengeRequired);
    assert!(!sign_in.is_enrolled);
    assert!(sign_in.url.is_some());
    let transfer = client
        .track("new-user", "transfer", TrackAttributes::default())
        .await
        .unwrap();
    assert_eq!(
        transfer.state,
        UserActionState::Block,
        "a block is not a challenge"
    );

    // Once enrolled, the same action challenges; an enrollment rule sees it.
    emulator.enroll_totp("new-user");
    let enrolled = client
        .track("new-user", "withdraw", TrackAttributes::default())
        .await
        .unwrap();
    assert_eq!(enrolled.state, UserActionState::ChallengeRequired);
    assert!(enrolled.is_enrolled);
    emulator.set_action(
        "withdraw",
        ActionConfig::challenge()
            .rule(Rule::new("enrolled", Outcome::Allow).when(Condition::IsEnrolled(true))),
    );
    let by_rule = client
        .track("new-user", "withdraw", TrackAttributes::default())
        .await
        .unwrap();
    assert_eq!(by_rule.state, UserActionState::Allow);
}

#[tokio::test]
async fn track_answers_a_url_to_the_pre_built_ui_in_every_state() {
    let emulator = builder()
        .action("pay", ActionConfig::challenge())
        .action("look", ActionConfig::allow())
        .action("close", ActionConfig::block())
        .start()
        .await
        .unwrap();
    emulator.enroll_totp("u1");
    let client = emulator.client();
    for (action, state) in [
        ("pay", UserActionState::ChallengeRequired),
        ("look", UserActionState::Allow),
        ("close", UserActionState::Block),
    ] {
        let tracked = client
            .track("u1", action, TrackAttributes::default())
            .await
            .unwrap();
        assert_eq!(tracked.state, state, "{action}");
        let url = tracked.url.expect("a url in every state");
        let token = tracked.token.expect("a token in every state");
        assert_eq!(
            url,
            format!(
                "{}/ui/challenge?token={}",
                emulator.origin(),
                token.as_str()
            ),
            "{action}"
        );
    }
    // The raw answer has it too, as API.md lists it: a string, not null.
    let (status, body) = raw(&emulator, Method::POST, "/users/u2/actions/look", None).await;
    assert_eq!(status, 200);
    assert_eq!(body["state"], "ALLOW");
    assert!(body["url"].is_string(), "{body}");
}

#[tokio::test]
async fn the_same_idempotency_key_answers_the_same_action() {
    let emulator = builder()
        .action("withdraw", ActionConfig::challenge())
        .start()
        .await
        .unwrap();
    emulator.enroll_totp("u1");
    let client = emulator.client();
    let attributes = TrackAttributes {
        idempotency_key: Some("key-1".into()),
        ..TrackAttributes::default()
    };
    let first = client
        .track("u1", "withdraw", attributes.clone())
        .await
        .unwrap();
    // Even if the rules change in between, a repeated track is the same action.
    emulator.set_action("withdraw", ActionConfig::block());
    let again = client.track("u1", "withdraw", attributes).await.unwrap();
    assert_eq!(first, again);
    assert_eq!(first.idempotency_key, "key-1");
    let actions = client
        .query_user_actions("u1", &QueryUserActionsRequest::default())
        .await
        .unwrap();
    assert_eq!(actions.len(), 1, "tracked once");
    assert_eq!(emulator.call_count("track"), 2);
}

#[tokio::test]
async fn query_user_actions_filters_by_codes_date_and_state() {
    let emulator = builder().start().await.unwrap();
    emulator.set_time(t0());
    let client = emulator.client();
    client
        .track("u1", "signIn", TrackAttributes::default())
        .await
        .unwrap();
    emulator.advance(Duration::from_secs(3600));
    let later = client
        .track("u1", "withdraw", TrackAttributes::default())
        .await
        .unwrap();
    client
        .track("u1", "payment", TrackAttributes::default())
        .await
        .unwrap();
    client
        .track("u2", "withdraw", TrackAttributes::default())
        .await
        .unwrap();
    client
        .update_action(
            "u1",
            "withdraw",
            &later.idempotency_key,
            &UpdateActionRequest {
                state: UserActionState::Block,
            },
        )
        .await
        .unwrap();
    let query = |query: QueryUserActionsRequest| {
        let client = client.clone();
        async move {
            client
                .query_user_actions("u1", &query)
                .await
                .unwrap()
                .into_iter()
                .map(|summary| summary.action)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        query(QueryUserActionsRequest::default()).await,
        ["payment", "withdraw", "signIn"]
    );
    assert_eq!(
        query(QueryUserActionsRequest {
            codes: vec!["signIn".into(), "withdraw".into()],
            ..QueryUserActionsRequest::default()
        })
        .await,
        ["withdraw", "signIn"]
    );
    assert_eq!(
        query(QueryUserActionsRequest {
            from_date: Some("2024-06-01T12:30:00.000Z".into()),
            ..QueryUserActionsRequest::default()
        })
        .await,
        ["payment", "withdraw"]
    );
    assert_eq!(
        query(QueryUserActionsRequest {
            state: Some(UserActionState::Block),
            ..QueryUserActionsRequest::default()
        })
        .await,
        ["withdraw"]
    );
    // A date that is no date is refused, not read as another day (31 February is not
    // 2 March).
    for bad in ["yesterday", "2024-02-31", "2024-04-31T00:00:00Z"] {
        let (status, body) = raw(
            &emulator,
            Method::GET,
            &format!("/users/u1/actions?fromDate={bad}"),
            None,
        )
        .await;
        assert_eq!(
            (status, body["errorCode"].as_str()),
            (400, Some("invalid_request")),
            "{bad}"
        );
    }
}

#[tokio::test]
async fn actions_that_do_not_exist_or_bad_updates_are_4xx() {
    let emulator = builder().start().await.unwrap();
    let client = emulator.client();
    let missing = client
        .get_action("u1", "withdraw", "nope")
        .await
        .unwrap_err();
    assert_eq!(missing.status().map(|s| s.as_u16()), Some(404));
    let tracked = client
        .track("u1", "withdraw", TrackAttributes::default())
        .await
        .unwrap();
    let (status, body) = raw(
        &emulator,
        Method::PATCH,
        &format!("/users/u1/actions/withdraw/{}", tracked.idempotency_key),
        Some(r#"{"state":"SOMETHING_NEW"}"#),
    )
    .await;
    assert_eq!(
        (status, body["errorCode"].as_str()),
        (400, Some("invalid_request"))
    );
    let bad_code = client
        .track("u1", "with space", TrackAttributes::default())
        .await
        .unwrap_err();
    let Error::Api(api) = bad_code else {
        panic!("expected a 400");
    };
    assert_eq!(api.status.as_u16(), 400);
    assert_eq!(api.code.as_deref(), Some("invalid_request"));
}

#[tokio::test]
async fn a_json_config_configures_the_actions() {
    let config = EmulatorConfig::from_json(
        r#"{
            "actions": {
                "withdraw": {
                    "defaultOutcome": "ALLOW",
                    "rules": [{"id": "big", "outcome": "BLOCK",
                               "when": [{"customAbove": {"field": "payee.amount", "value": 100}}]}]
                }
            },
            "defaultAction": {"defaultOutcome": "REVIEW_REQUIRED"}
        }"#,
    )
    .unwrap();
    let emulator = builder().config(config).start().await.unwrap();
    let client = emulator.client();
    let big = client
        .track(
            "u1",
            "withdraw",
            TrackAttributes {
                custom: custom(json!({"payee": {"amount": 101}})),
                ..TrackAttributes::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(big.state, UserActionState::Block);
    let other = client
        .track("u1", "anything", TrackAttributes::default())
        .await
        .unwrap();
    assert_eq!(other.state, UserActionState::ReviewRequired);
}
