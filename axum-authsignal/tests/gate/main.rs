//! The step-up gate, tested through real HTTP against the emulator. One binary, so that
//! one log capture sees the whole suite.

mod adversarial;
mod bounds;
mod browser_sequences;
mod configuration;
mod debug_redaction;
mod extractor;
mod flows;
mod hardening;
mod invariants;
mod judged;
mod layering;
mod leg1;
mod login;
mod negotiation;
mod resume;
mod review;
mod support;
mod tracing_span;
mod validate_answers;
mod webhook_extractor;

// The webhook events of the `authsignal` crate's tests, to sign here too.
#[path = "../../../authsignal/tests/webhook/events.rs"]
mod webhook_events;
