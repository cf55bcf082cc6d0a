#!/usr/bin/env bash
# The soak: two app instances (processes of their own) sharing one Redis and one
# Authsignal emulator, 256 concurrent clients for [seconds] (60 by default), 30 % of the
# gate's Authsignal calls faulted; then the checks of benches/soak/: no 500 and no panic,
# handler runs equal to ALLOWs plus first token uses, each instance's memory growth
# bounded, every Redis key of the run expiring. Loopback only, bounded in time, stops
# everything it started; exits non-zero on any failure.
#
#   .ci/soak.sh [seconds]               .ci/run runs `.ci/soak.sh 10`
#   SOAK_WAIT_EXPIRY=1 .ci/soak.sh 60   then also waits (about 10 min) for every key
#                                       of the run to expire, and checks that they did
#
# It builds in the dev profile: after `cargo test` (which has built every dependency in
# that profile, and the emulator program) the build adds the soak binary alone, about 5 s,
# where a release build would compile the whole tree again (several minutes on 2 cores).
# The soak checks invariants, not speed: the rate is printed, never asserted.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"
if ! [[ "$seconds" =~ ^[0-9]+$ ]] || ((seconds < 5 || seconds > 3600)); then
  echo "usage: .ci/soak.sh [seconds, 5 to 3600]" >&2
  exit 2
fi
export CARGO_TERM_COLOR=never
bash .ci/redis-deps.sh

# The soak binary, and the emulator program.
cargo bench --quiet -p axum-authsignal --profile dev --bench soak --no-run
cargo build --quiet -p authsignal-emulator
echo "soak: built (${SECONDS} s)"
emulator_bin="${CARGO_TARGET_DIR:-target}/debug/authsignal-emulator"

work="$(mktemp -d)"
started=()
stop_all() {
  for pid in "${started[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${started[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap stop_all EXIT
trap 'exit 130' INT TERM HUP
# What this script starts runs under `timeout`: were the script killed outright (no trap
# runs on SIGKILL), its servers would still end, this long after.
lifetime=$((2 * seconds + 900))
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Redis: persistence off, never evicting (the store's advice), on a free loopback port.
redis_port=""
redis_pid=""
for _ in 1 2 3 4 5; do
  port="$(free_port)"
  timeout -s KILL "$lifetime" redis-server --port "$port" --bind 127.0.0.1 \
    --save '' --appendonly no --daemonize no --maxmemory-policy noeviction \
    --dir "$work" --logfile "$work/redis.log" &
  pid=$!
  started+=("$pid")
  for _ in $(seq 100); do
    if [[ "$(redis-cli -p "$port" ping 2>/dev/null)" == PONG ]]; then
      redis_port="$port"
      redis_pid="$pid"
      break 2
    fi
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill "$pid" 2>/dev/null || true
done
if [[ -z "$redis_port" ]]; then
  echo "soak: redis-server did not start" >&2
  cat "$work/redis.log" >&2 || true
  exit 1
fi

# The emulator program: withdrawals challenged, account closing blocked, the rest allowed.
cat >"$work/emulator.json" <<'JSON'
{"actions": {"withdraw": {"defaultOutcome": "CHALLENGE_REQUIRED"},
             "closeAccount": {"defaultOutcome": "BLOCK"}}}
JSON
secret="soak-secret-$RANDOM$RANDOM"
timeout -s KILL "$lifetime" "$emulator_bin" --port 0 --secret "$secret" \
  --config "$work/emulator.json" >"$work/emulator.log" 2>&1 &
emulator_pid=$!
started+=("$emulator_pid")
api=""
for _ in $(seq 100); do
  api="$(sed -n 's/^API URL: //p' "$work/emulator.log")"
  [[ -n "$api" ]] && break
  kill -0 "$emulator_pid" 2>/dev/null || break
  sleep 0.1
done
if [[ -z "$api" ]]; then
  echo "soak: the emulator did not start" >&2
  cat "$work/emulator.log" >&2
  exit 1
fi

echo "soak: redis-server on port $redis_port, the emulator at $api (${SECONDS} s)"
status=0
cargo bench --quiet -p axum-authsignal --profile dev --bench soak -- \
  --redis "redis://127.0.0.1:$redis_port/" --emulator "$api" --secret "$secret" \
  --seconds "$seconds" ${SOAK_WAIT_EXPIRY:+--wait-expiry} ${SOAK_ARGS:-} || status=$?

# The servers must have lived through it, and the emulator must not have panicked.
for pid in "$redis_pid" "$emulator_pid"; do
  if ! kill -0 "$pid" 2>/dev/null; then
    echo "soak: a server the soak used (redis-server or the emulator) is gone" >&2
    status=1
  fi
done
if grep -q "panicked" "$work/emulator.log"; then
  echo "soak: the emulator panicked:" >&2
  grep -A3 "panicked" "$work/emulator.log" >&2
  status=1
fi
echo "soak: done (${SECONDS} s); redis-server $(redis-cli -p "$redis_port" info memory | grep '^used_memory_human' | tr -d '\r'), DBSIZE $(redis-cli -p "$redis_port" dbsize)"
exit "$status"
