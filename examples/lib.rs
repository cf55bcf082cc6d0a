//! The examples of `axum-authsignal`, each a program (`cargo run --example withdrawal`);
//! see the repository's README. This library is empty: a package needs a target, and the
//! examples share their code through `common/` instead.

#![forbid(unsafe_code)]
