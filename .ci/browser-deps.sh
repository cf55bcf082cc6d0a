#!/usr/bin/env bash
# Installs what tests/browser/ needs: Debian's chromium and chromium-driver, from apt
# only (no browser downloads). Idempotent: does nothing when chromedriver is there.
set -euo pipefail

if [[ -x /usr/bin/chromedriver && -x /usr/bin/chromium ]]; then
    exit 0
fi

SUDO=""
if [[ $(id -u) -ne 0 ]]; then
    SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update
$SUDO apt-get install -y chromium chromium-driver
/usr/bin/chromedriver --version
