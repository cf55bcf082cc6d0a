#!/usr/bin/env bash
# Runs the README's curl session against `cargo run --example payment_api`, so that the
# commands the README shows keep working when pasted.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

cargo build --quiet --example payment_api
WORK="$(mktemp -d)"
PORT=3000 EMULATOR_PORT=8787 ./target/debug/examples/payment_api >"$WORK/app.log" 2>&1 &
APP=$!
trap 'kill $APP 2>/dev/null || true; wait $APP 2>/dev/null || true; rm -rf "$WORK"' EXIT
for _ in $(seq 100); do
  curl -s -o /dev/null http://127.0.0.1:3000/payments && break
  sleep 0.1
done
grep -q '127.0.0.1:8787' "$WORK/app.log" || { cat "$WORK/app.log"; echo "port 8787 was busy" >&2; exit 1; }

# The block that starts with "# 1. A payment" in the README, run as written.
python3 - "$ROOT/README.md" >"$WORK/session.sh" <<'PY'
import sys
text = open(sys.argv[1]).read()
start = text.index("```sh\n# 1. A payment") + len("```sh\n")
print(text[start:text.index("```", start)])
PY
(cd "$WORK" && bash -euo pipefail session.sh) | tee "$WORK/out.txt"
echo
grep -q '"status":"sent"' "$WORK/out.txt" || { echo "the README session did not end in a sent payment" >&2; exit 1; }
echo "README session: ok"
