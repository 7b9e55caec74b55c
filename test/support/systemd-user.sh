#!/usr/bin/env bash
# A real systemd user manager for the tests, outside a login session. systemd --user refuses to run
# unless /run/systemd/system exists (the sign of a machine booted with systemd, which a container or
# a CI machine is not). Run under `unshare -m`, a tmpfs there holds that directory in a mount
# namespace of its own, seen by nothing else on the machine. The manager takes XDG_RUNTIME_DIR,
# HOME and XDG_CONFIG_HOME from the environment; this script becomes it (exec), so its pid is the
# manager's, for nsenter.
set -euo pipefail
mkdir -p /run/systemd
mount -t tmpfs -o mode=0755 tmpfs /run/systemd
mkdir /run/systemd/system
exec /lib/systemd/systemd --user --log-target=console
