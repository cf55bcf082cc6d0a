#!/usr/bin/env bash
# Installs what the Redis store tests need (tests/redis_support/): Debian's redis-server,
# whose redis-tools dependency brings redis-cli (for the cluster test), from apt only.
# Idempotent: does nothing when both are there. The tests start and stop their own
# servers; the package's own service is not needed and may stay stopped.
set -euo pipefail

if [[ -x /usr/bin/redis-server && -x /usr/bin/redis-cli ]]; then
    exit 0
fi

SUDO=""
if [[ $(id -u) -ne 0 ]]; then
    SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update
$SUDO apt-get install -y redis-server
/usr/bin/redis-server --version
