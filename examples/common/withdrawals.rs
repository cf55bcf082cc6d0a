//! What the withdrawal examples share: the action, its emulator rule, the ledger and its
//! pages. Each example signs users in its own way and passes the signed-in user here.
//! Not part of the crate: a real app has its own database and templates.

// Each example uses a different part of this.
#![allow(dead_code)]

use std::sync::{Arc, Mutex};

use authsignal_emulator::{ActionConfig, Condition, Outcome, Rule};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum_authsignal::{Action, StepUp};

use super::demo::{escape, page};

/// Withdrawals above this amount are challenged.
pub const THRESHOLD: f64 = 1000.0;

/// The Authsignal action behind the withdrawal form.
pub struct Withdraw;

impl Action for Withdraw {
    const CODE: &'static str = "withdraw";
}

/// Withdrawals above this amount go to a manual review (in the examples whose gate holds
/// reviews).
pub const REVIEW_THRESHOLD: f64 = 10_000.0;

/// How the emulator treats [`Withdraw`]: allowed, challenged above the threshold.
pub fn action_config() -> ActionConfig {
    ActionConfig::allow().rule(large_withdrawal())
}

/// [`action_config`], with withdrawals above [`REVIEW_THRESHOLD`] sent to a manual review
/// (the first rule that holds decides).
pub fn action_config_with_review() -> ActionConfig {
    let review = Rule::new("very-large-withdrawal", Outcome::ReviewRequired)
        .name("Withdrawals a person looks at first")
        .when(Condition::custom_above("amount", REVIEW_THRESHOLD));
    ActionConfig::allow().rule(review).rule(large_withdrawal())
}

fn large_withdrawal() -> Rule {
    Rule::new("large-withdrawal", Outcome::ChallengeRequired)
        .name("Withdrawals above the threshold")
        .when(Condition::custom_above("amount", THRESHOLD))
}

/// The withdrawals made, in order.
#[derive(Clone, Default)]
pub struct Ledger(Arc<Mutex<Vec<Withdrawal>>>);

struct Withdrawal {
    /// The user the gate let through.
    user: String,
    amount: f64,
    /// How the user stepped up, if they were challenged.
    verified_with: Option<String>,
}

impl Ledger {
    /// Makes the withdrawal the gate let through, for the user it checked, and answers
    /// with a redirect to the confirmation (post/redirect/get), so that a refresh shows the
    /// confirmation again instead of sending the withdrawal again.
    ///
    /// The amount is the one Authsignal's rules judged, from the proof, not a parse of the
    /// form's own: the two cannot differ. An amount that was not judged as a number (text
    /// such as `5 000`) is refused.
    pub fn withdraw(&self, step_up: &StepUp<Withdraw>) -> Response {
        let Some(amount) = step_up
            .judged_number("amount")
            .filter(|a| a.is_finite() && *a > 0.0)
        else {
            let body = page(
                "Withdraw",
                "<p id=\"error\">Enter a positive amount.</p><a href=\"/withdraw\">Back</a>",
            );
            return (StatusCode::BAD_REQUEST, body).into_response();
        };
        let mut ledger = self.0.lock().unwrap();
        ledger.push(Withdrawal {
            user: step_up.user_id().to_owned(),
            amount,
            verified_with: step_up
                .verification_method()
                .map(ToString::to_string)
                .or_else(|| {
                    step_up
                        .was_reviewed()
                        .then(|| "a reviewer's approval".to_owned())
                }),
        });
        Redirect::to(&format!("/withdrawals/{}", ledger.len())).into_response()
    }

    /// The confirmation of withdrawal `id` (from 1), for its own `user` only.
    pub fn confirmation(&self, user: &str, id: usize) -> Response {
        let ledger = self.0.lock().unwrap();
        let Some(withdrawal) = id
            .checked_sub(1)
            .and_then(|index| ledger.get(index))
            .filter(|withdrawal| withdrawal.user == user)
        else {
            return (
                StatusCode::NOT_FOUND,
                page("Not found", "<p>No such withdrawal.</p>"),
            )
                .into_response();
        };
        let how = match &withdrawal.verified_with {
            Some(method) => format!("verified with {method}"),
            None => "no step-up needed".to_owned(),
        };
        page(
            "Withdrawal confirmed",
            &format!(
                "<p id=\"confirmation\">Withdrawal of {:.2} confirmed ({how}).</p>\
                 <p><a href=\"/withdraw\">Another withdrawal</a> · <a href=\"/withdrawals\">Past withdrawals</a></p>",
                withdrawal.amount
            ),
        )
        .into_response()
    }

    /// `user`'s past withdrawals.
    pub fn list(&self, user: &str) -> Response {
        let items: String = self
            .0
            .lock()
            .unwrap()
            .iter()
            .filter(|withdrawal| withdrawal.user == user)
            .map(|withdrawal| {
                format!(
                    "<li class=\"withdrawal\">{:.2}{}</li>",
                    withdrawal.amount,
                    if withdrawal.verified_with.is_some() {
                        " (stepped up)"
                    } else {
                        ""
                    }
                )
            })
            .collect();
        page(
            "Past withdrawals",
            &format!("<ul id=\"withdrawals\">{items}</ul><a href=\"/withdraw\">Withdraw</a>"),
        )
        .into_response()
    }
}

/// The sign-in form, posting `username` and `password` to `/login`; `hint` is HTML.
pub fn sign_in_page(username: &str, hint: &str) -> Html<String> {
    page(
        "Sign in",
        &format!(
            "<form method=\"post\" action=\"/login\">\
             <label>Username <input id=\"username\" name=\"username\" value=\"{}\"></label>\
             <label>Password <input id=\"password\" name=\"password\" type=\"password\"></label>\
             <button id=\"sign-in\" type=\"submit\">Sign in</button></form>\
             <p class=\"hint\">{hint}</p>",
            escape(username)
        ),
    )
}

/// The 401 page of a wrong username or password.
pub fn wrong_password() -> Response {
    let body = page(
        "Sign in",
        "<p id=\"error\">Wrong username or password.</p><a href=\"/\">Try again</a>",
    );
    (StatusCode::UNAUTHORIZED, body).into_response()
}

/// The withdrawal form for the signed-in `username`; `extra` (HTML) goes at the end.
pub fn form_page(username: &str, extra: &str) -> Html<String> {
    page(
        "Withdraw",
        &format!(
            "<p>Signed in as <b>{}</b>.</p>\
             <form method=\"post\" action=\"/withdraw\">\
             <label>Amount <input id=\"amount\" name=\"amount\" inputmode=\"decimal\" required></label>\
             <button id=\"withdraw\" type=\"submit\">Withdraw</button></form>\
             <p class=\"hint\">Amounts above {THRESHOLD} need a step-up.</p>\
             <p><a href=\"/withdrawals\">Past withdrawals</a></p>{extra}",
            escape(username)
        ),
    )
}
