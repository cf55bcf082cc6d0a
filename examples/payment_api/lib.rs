//! The `payment_api` example: `cargo run --example payment_api`. This library is empty: a package needs a
//! target, and the example is `main.rs`.

#![forbid(unsafe_code)]
