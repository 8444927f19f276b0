#!/bin/sh
# Installs Debian's `prometheus` for the fleet test (telemetry/tests/fleet_prometheus.rs).
# Idempotent: does nothing when a prometheus binary is on PATH. The test runs its own
# instance on a free 127.0.0.1 port with a temporary data folder, so the packaged service
# is kept from starting (policy-rc.d) and stopped if anything started it anyway.
set -eu
if command -v prometheus >/dev/null 2>&1; then
    exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
POLICY=/usr/sbin/policy-rc.d
CREATED=""
if [ ! -e "$POLICY" ]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$POLICY" >/dev/null
    $SUDO chmod +x "$POLICY"
    CREATED=1
fi
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends prometheus
if [ -n "$CREATED" ]; then
    $SUDO rm -f "$POLICY"
fi
if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
    $SUDO systemctl disable --now prometheus >/dev/null 2>&1 || true
else
    $SUDO service prometheus stop >/dev/null 2>&1 || true
fi
command -v prometheus
