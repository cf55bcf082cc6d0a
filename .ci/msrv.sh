#!/usr/bin/env bash
# Checks that each published crate's `rust-version` is true: at least the highest
# `rust-version` any package of its resolved dependency tree declares, with its default
# features and with all of them. The tree is what a user's build compiles (normal and
# build dependencies, every target platform; dev-dependencies are the crate's own
# business), as `cargo tree` resolves it from Cargo.lock; each package's rust-version
# comes from `cargo metadata`. Fails, naming the packages, when the declared version is
# lower. Needs cargo and python3; works from any directory, offline once the lock's
# crates are fetched.
set -euo pipefail
cd "$(dirname "$0")/.."

METADATA="$(mktemp)"
trap 'rm -f "$METADATA"' EXIT
cargo metadata --format-version 1 --all-features --locked >"$METADATA"

status=0
for package in async-authsignal axum-authsignal authsignal-emulator; do
for features in "" "--all-features"; do
  label="$package, ${features:-default features}"
  # One `name vX.Y.Z` per package of the tree (duplicates and markers included).
  # shellcheck disable=SC2086 # $features is one word or none on purpose
  tree="$(cargo tree --locked -p "$package" -e normal,build --target all --prefix none -f '{p}' $features)"
  if ! TREE="$tree" LABEL="$label" PACKAGE="$package" python3 - "$METADATA" <<'PY'; then
import json, os, re, sys

def version(text):
    parts = [int(part) for part in text.split(".")]
    return tuple(parts + [0] * (3 - len(parts)))

metadata = json.load(open(sys.argv[1]))
root = next(p for p in metadata["packages"]
            if p["id"] in metadata["workspace_members"] and p["name"] == os.environ["PACKAGE"])
declared = root.get("rust_version")
if not declared:
    print(f"msrv: {root['name']} declares no rust-version in Cargo.toml")
    sys.exit(1)
declared_at = {}
for package in metadata["packages"]:
    declared_at[(package["name"], package["version"])] = package.get("rust_version")

used = set(re.findall(r"^(\S+) v(\S+)", os.environ["TREE"], re.MULTILINE))
needs = sorted(
    ((version(rv), rv, name, v) for (name, v) in used
     if (rv := declared_at.get((name, v))) and name != root["name"]),
    reverse=True,
)
label = os.environ["LABEL"]
workspace = {p["name"] for p in metadata["packages"] if p["id"] in metadata["workspace_members"]}
needs = [need for need in needs if need[2] not in workspace]
if not needs:
    print(f"msrv: {label}: no dependency declares a rust-version; {declared} stands")
    sys.exit(0)
highest = needs[0][0]
if version(declared) >= highest:
    print(f"msrv: {label}: rust-version {declared} >= {needs[0][1]} "
          f"({needs[0][2]} {needs[0][3]}), over {len(used)} packages: ok")
    sys.exit(0)
over = [f"{name} {v} needs {rv}" for (vt, rv, name, v) in needs if vt > version(declared)]
print(f"msrv: {label}: Cargo.toml says rust-version = \"{declared}\", but the tree needs "
      f"{needs[0][1]}:\n  " + "\n  ".join(over) +
      f"\n  raise rust-version to {needs[0][1]} (or pin those crates lower)")
sys.exit(1)
PY
    status=1
  fi
done
done
exit "$status"
