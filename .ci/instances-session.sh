#!/usr/bin/env bash
# The README's "Running several instances", run as written: redis-server and two
# instances of `payment_api` started with the README's variables, then the block that
# starts with "# Two instances" run as written, each step's answer checked. Needs
# redis-server (.ci/redis-deps.sh); stops everything it started.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

cargo build --quiet --example payment_api
WORK="$(mktemp -d)"
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

# A free port for Redis (6379 may be in use on a developer's machine).
REDIS_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no >"$WORK/redis.log" 2>&1 &
PIDS+=($!)
export REDIS_URL="redis://127.0.0.1:$REDIS_PORT"
for _ in $(seq 100); do redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done

wait_for() { for _ in $(seq 150); do curl -s -o /dev/null "$1" && return 0; sleep 0.1; done; echo "$1 did not answer" >&2; exit 1; }
PORT=3000 EMULATOR_PORT=8787 ./target/debug/examples/payment_api >"$WORK/a.log" 2>&1 &
PIDS+=($!)
wait_for http://127.0.0.1:3000/payments
grep -q '127.0.0.1:8787' "$WORK/a.log" || { cat "$WORK/a.log"; echo "port 8787 was busy" >&2; exit 1; }
PORT=3001 AUTHSIGNAL_API_URL=http://127.0.0.1:8787/v1 AUTHSIGNAL_SECRET_KEY=authsignal-emulator-demo-secret \
  ./target/debug/examples/payment_api >"$WORK/b.log" 2>&1 &
PIDS+=($!)
wait_for http://127.0.0.1:3001/payments
grep -q 'Redis (REDIS_URL)' "$WORK/a.log" && grep -q 'Redis (REDIS_URL)' "$WORK/b.log" \
  || { echo "an instance is not on Redis" >&2; cat "$WORK/a.log" "$WORK/b.log" >&2; exit 1; }

python3 - "$ROOT/README.md" >"$WORK/session.sh" <<'PY'
import sys
text = open(sys.argv[1]).read()
start = text.index("```sh\n# Two instances") + len("```sh\n")
print(text[start:text.index("```", start)])
PY
(cd "$WORK" && bash -euo pipefail session.sh)
echo
expect() {
  grep -q -- "$2" "$WORK/$1" || { echo "step '$3': $1 lacks $2:" >&2; cat "$WORK/$1" >&2; exit 1; }
}
expect challenge.json '"code":"step_up_required"' "challenged on 3000"
expect paid-on-b.json '"status":"sent"' "paid on 3001"
expect replayed-on-a.json '"code":"step_up_failed"' "replayed on 3000"
echo "several instances session: ok"
