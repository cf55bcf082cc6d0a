//! End-to-end tests of the examples: `tests/examples` (over HTTP) and `tests/browser` (in
//! Chromium). This library is empty; a package needs a target.

#![forbid(unsafe_code)]
