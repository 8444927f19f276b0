#!/bin/sh
# Installs Debian's `chromium` for the fleet report screenshot (telemetry/tests/fleet_prometheus.rs).
# Idempotent: does nothing when a chromium binary is on PATH.
set -eu
if command -v chromium >/dev/null 2>&1; then
    exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core
command -v chromium
