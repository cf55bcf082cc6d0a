#!/usr/bin/env bash
# The first `cargo run --example withdrawal` of a newcomer compiles the examples package and
# its dependency tree: checks that it stays small (at most 180 `Compiling` lines from a
# clean clone) and holds no test-only or bench-only crate. Counts from Cargo.lock
# (`cargo tree`), without building. A clean build compiles 13 more units than the tree has
# packages (measured on 2026-12-06: 159 packages, 172 `Compiling` lines; proc-macro and
# build-script crates built for the host too), so the tree may hold at most 167. The
# emulator's WebAuthn relying party adds 25 (RustCrypto `p256` with its ECDSA, field and
# encoding crates; `coset` with `ciborium` for CBOR and COSE keys), all pure Rust: 192.
set -euo pipefail
cd "$(dirname "$0")/.."

LIMIT=192
# Crates only the tests and benches use: none may reach an example's build.
TEST_ONLY='^(axum-test|criterion|proptest|rqrr|aho-corasick|metrics-exporter-prometheus|axum-login|tower-sessions|end-to-end-tests) '

tree="$(cargo tree --locked -p examples -e normal,build --prefix none -f '{p}' \
  | sed -e 's/ (\*)$//' -e 's/ (proc-macro)$//' | sort -u)"
count="$(printf '%s\n' "$tree" | grep -c .)"
echo "example-deps: cargo run --example withdrawal builds a tree of $count packages (limit $LIMIT)"
status=0
if ((count > LIMIT)); then
  echo "example-deps: over the limit" >&2
  status=1
fi
if leaked="$(printf '%s\n' "$tree" | grep -E "$TEST_ONLY")"; then
  echo "example-deps: test-only or bench-only crates in the examples' build:" >&2
  printf '  %s\n' "$leaked" >&2
  status=1
fi
exit "$status"
