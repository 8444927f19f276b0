#!/bin/sh
# Debian's `chromium` for the fleet report screenshot in telemetry/tests/fleet_prometheus.rs.
exec sh "$(dirname "$0")/apt-install.sh" chromium chromium fonts-dejavu-core
