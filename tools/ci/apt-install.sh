#!/bin/sh
# Usage: apt-install.sh BINARY PACKAGE...
# Installs Debian PACKAGEs unless BINARY is already on PATH (idempotent). Package services
# are kept from starting (policy-rc.d) and a service named BINARY is stopped if anything
# started it anyway: tests run their own instances on free ports.
set -eu
BINARY=${1:?usage: apt-install.sh BINARY PACKAGE...}
shift
if command -v "$BINARY" >/dev/null 2>&1; then
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
$SUDO apt-get install -y -qq --no-install-recommends "$@"
if [ -n "$CREATED" ]; then
    $SUDO rm -f "$POLICY"
fi
if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
    $SUDO systemctl disable --now "$BINARY" >/dev/null 2>&1 || true
else
    $SUDO service "$BINARY" stop >/dev/null 2>&1 || true
fi
command -v "$BINARY"
