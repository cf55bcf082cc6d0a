//! TODO

#[allow(dead_code)]
mod common;

mod conformance;
mod connections;
mod errors;
mod paths;
mod retry;
mod secrets;
mod types;
