#!/bin/sh
# Debian's `prometheus` for telemetry/tests/fleet_prometheus.rs, which runs its own instance
# on a free 127.0.0.1 port with a temporary data folder (the packaged service is not started).
exec sh "$(dirname "$0")/apt-install.sh" prometheus prometheus
