//! The `axum_login` example: `cargo run --example axum_login`. This library is empty: a package needs a
//! target, and the example is `main.rs`.

#![forbid(unsafe_code)]
