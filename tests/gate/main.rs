//! The step-up gate, tested through real HTTP against the emulator. One binary, so that
//! one log capture sees the whole suite.

mod adversarial;
mod bounds;
mod configuration;
mod extractor;
mod flows;
mod hardening;
mod invariants;
mod layering;
mod login;
mod negotiation;
mod support;
mod tracing_span;
