#!/usr/bin/env bash
# Runs the README's curl session against `cargo run --example payment_api`, so that the
# commands the README shows keep working when pasted, and checks each step's own answer:
# the challenge, the verification, the other user's refusal and the payment; then a
# payment held for a review, approved with updateAction, and paid once.
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

# The blocks that start with "# 1. A payment" and "# Review 1. A payment" in the README,
# run as written, one after the other.
python3 - "$ROOT/README.md" >"$WORK/session.sh" <<'PY'
import sys
text = open(sys.argv[1]).read()
for first in ("# 1. A payment", "# Review 1. A payment"):
    start = text.index("```sh\n" + first) + len("```sh\n")
    print(text[start:text.index("```", start)])
PY
(cd "$WORK" && bash -euo pipefail session.sh)
echo

expect() { # file, what it must contain, what the step is
  grep -q -- "$2" "$WORK/$1" || { echo "step '$3': $1 lacks $2:" >&2; cat "$WORK/$1" >&2; exit 1; }
}
refuse() { # file, what it must not contain, what the step is
  if grep -q -- "$2" "$WORK/$1"; then echo "step '$3': $1 has $2" >&2; cat "$WORK/$1" >&2; exit 1; fi
}
expect challenge.json '"code":"step_up_required"' "1. challenged"
expect challenge.json '"token":"' "1. challenged"
refuse challenge.json '"status":"sent"' "1. challenged"
expect verified.json '"isVerified":true' "2. verified"
expect stolen.json '"code":"step_up_failed"' "3. another user's attempt"
refuse stolen.json '"status":"sent"' "3. another user's attempt"
expect paid.json '"status":"sent"' "4. paid"
expect paid.json '"steppedUp":true' "4. paid"
expect metrics.txt 'authsignal_step_up_total{action="payment",outcome="verified"} 1' "5. metrics"
expect metrics.txt 'authsignal_step_up_total{action="payment",outcome="refused"} 1' "5. metrics"
expect held.json '"code":"action_in_review"' "review 1. held"
expect held.json '"reviewHeader":"x-authsignal-review"' "review 1. held"
expect waiting.json '"code":"action_in_review"' "review 2. still in review"
refuse waiting.json '"status":"sent"' "review 2. still in review"
expect approved.json '"state":"REVIEW_SUCCEEDED"' "review 3. approved"
expect paid-after-review.json '"status":"sent"' "review 4. paid"
expect paid-after-review.json '"reviewed":true' "review 4. paid"
expect paid-twice.json '"code":"step_up_failed"' "review 4. paid once"
echo "README session: ok"
