#!/usr/bin/env bash
# The official Node SDK against the authsignal-emulator program: installs the SDK (npm ci),
# builds the program, starts it on a free port with a random secret and
# tests/node/emulator-config.json (plus a webhook endpoint on a free port, where the
# scenario verifies the events with the SDK), runs `node --test tests/node/`, and stops the
# program on exit, whatever happens. Works from any directory; needs cargo, node and npm.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"

step() { printf '\n=== node scenario: %s (%ss)\n' "$1" "$SECONDS"; }

step "npm ci"
(cd tests/node && npm ci --no-audit --no-fund)

step "build authsignal-emulator"
cargo build -p authsignal-emulator
# Where cargo put it, honouring CARGO_TARGET_DIR and .cargo/config.
TARGET_DIR="$(cargo metadata --format-version 1 --no-deps \
  | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).target_directory))')"
EMULATOR="$TARGET_DIR/debug/authsignal-emulator"
[[ -x "$EMULATOR" ]] || { echo "no emulator at $EMULATOR" >&2; exit 1; }

step "start the emulator"
WORK="$(mktemp -d)"
EMULATOR_PID=""
cleanup() {
  local status=$?
  if [[ -n "$EMULATOR_PID" ]] && kill -0 "$EMULATOR_PID" 2>/dev/null; then
    kill -TERM "$EMULATOR_PID" 2>/dev/null || true
    for _ in $(seq 50); do
      kill -0 "$EMULATOR_PID" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$EMULATOR_PID" 2>/dev/null || true
    wait "$EMULATOR_PID" 2>/dev/null || true
  fi
  if [[ $status -ne 0 && -s "$WORK/emulator.log" ]]; then
    echo "--- emulator output ---" >&2
    cat "$WORK/emulator.log" >&2
  fi
  rm -rf "$WORK"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# A random secret, given through the environment (not argv, which `ps` shows); the
# scenario reads the same variable.
AUTHSIGNAL_SECRET_KEY="scenario-$(od -An -tx1 -N24 /dev/urandom | tr -d ' \n')"
export AUTHSIGNAL_SECRET_KEY
# The scenario receives the emulator's webhooks on a free port of its own, verifying them
# with the SDK: the port goes into a copy of the config, and to the scenario.
WEBHOOK_PORT="$(node -e '
  const server = require("node:net").createServer().listen(0, "127.0.0.1", () => {
    console.log(server.address().port);
    server.close();
  });')"
export WEBHOOK_PORT
node -e '
  const [source, target, port] = process.argv.slice(1);
  const config = JSON.parse(require("node:fs").readFileSync(source, "utf8"));
  // An action.verify URL names the receiver as WEBHOOK_ORIGIN: the port is known here only.
  for (const action of Object.values(config.actions)) {
    if (action.verificationWebhookUrl) {
      action.verificationWebhookUrl = action.verificationWebhookUrl.replace(
        "WEBHOOK_ORIGIN",
        `http://127.0.0.1:${port}`,
      );
    }
  }
  config.webhooks = {
    endpoints: [{ url: `http://127.0.0.1:${port}/webhooks/authsignal` }],
    maxRetries: 5,
    firstBackoffMillis: 100,
  };
  require("node:fs").writeFileSync(target, JSON.stringify(config));
' tests/node/emulator-config.json "$WORK/emulator-config.json" "$WEBHOOK_PORT"

# Port 0: the emulator binds a free port itself and prints its URL, so no port can be
# taken between choosing and binding it.
"$EMULATOR" --host 127.0.0.1 --port 0 --config "$WORK/emulator-config.json" \
  >"$WORK/emulator.log" 2>&1 &
EMULATOR_PID=$!

# Wait (at most ~30 s) for the printed API and JWKS URLs, then for the API to answer.
AUTHSIGNAL_API_URL=""
DEADLINE=$((SECONDS + 30))
while ((SECONDS < DEADLINE)); do
  kill -0 "$EMULATOR_PID" 2>/dev/null || { echo "the emulator exited early" >&2; exit 1; }
  AUTHSIGNAL_API_URL="$(sed -n 's/^API URL: *//p' "$WORK/emulator.log" | head -n 1)"
  # The tenant id: what the passkey sign-in without a token authenticates with.
  AUTHSIGNAL_TENANT_ID="$(sed -n 's/^Tenant: *//p' "$WORK/emulator.log" | head -n 1)"
  # The JWKS line ends the banner.
  AUTHSIGNAL_JWKS_URL="$(sed -n 's/^JWKS: *//p' "$WORK/emulator.log" | head -n 1)"
  if [[ -n "$AUTHSIGNAL_API_URL" && -n "$AUTHSIGNAL_TENANT_ID" && -n "$AUTHSIGNAL_JWKS_URL" ]] && node -e '
      fetch(process.argv[1] + "/users/ready-probe", {
        headers: { Authorization: "Basic " + Buffer.from(process.env.AUTHSIGNAL_SECRET_KEY + ":").toString("base64") },
        signal: AbortSignal.timeout(1000),
      }).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1));
    ' "$AUTHSIGNAL_API_URL"; then
    break
  fi
  AUTHSIGNAL_API_URL=""
  sleep 0.1
done
[[ -n "$AUTHSIGNAL_API_URL" ]] || { echo "the emulator did not answer within 30 s" >&2; exit 1; }
export AUTHSIGNAL_API_URL
export AUTHSIGNAL_JWKS_URL
export AUTHSIGNAL_TENANT_ID
echo "emulator at $AUTHSIGNAL_API_URL (pid $EMULATOR_PID)"

step "node --test tests/node/"
# An empty directory passes `node --test` on Node 20: count what ran, and fail on fewer
# tests than the scenario has, or on any skipped or todo.
# One file at a time: the files share the emulator, and a fault armed over its
# emulator-only route (scenario.test.mjs) is the next request's, whichever file sends it.
node --test --test-concurrency=1 --test-reporter=tap tests/node/ | tee "$WORK/tap.txt"
count() { sed -n "s/^# $1 \([0-9]*\)$/\1/p" "$WORK/tap.txt" | tail -n 1; }
MIN_TESTS=75
TESTS="$(count tests)"; PASS="$(count pass)"; SKIPPED="$(count skipped)"; TODO="$(count todo)"
if [[ -z "$TESTS" || "$TESTS" -lt "$MIN_TESTS" || "$PASS" != "$TESTS" || "$SKIPPED" != 0 || "$TODO" != 0 ]]; then
  echo "node scenario: $TESTS tests, $PASS passed, $SKIPPED skipped, $TODO todo (at least $MIN_TESTS must pass)" >&2
  exit 1
fi
echo "node scenario: all $TESTS tests passed"

step "done"
