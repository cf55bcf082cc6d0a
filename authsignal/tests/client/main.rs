//! The client through real HTTP: the official SDKs' wire fixtures, errors, paths, retries,
//! connection bounds, secrets and the wire types. One binary, so that the crate links once.

#[allow(dead_code)]
mod common;

mod conformance;
mod connections;
mod errors;
mod paths;
mod retry;
mod secrets;
mod types;
