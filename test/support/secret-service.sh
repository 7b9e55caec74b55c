#!/usr/bin/env bash
# Starts a private D-Bus session bus with gnome-keyring's Secret Service on it, unlocked, for the
# tests; prints shell code (export DBUS_SESSION_BUS_ADDRESS=…; SECRET_SERVICE_BUS_PID=…) for eval.
# Killing the bus pid stops the keyring daemon too. Usage: eval "$(test/support/secret-service.sh DIR)"
set -euo pipefail
dir="$1"
mkdir -p "$dir/run" "$dir/data"
chmod 700 "$dir/run"
export XDG_RUNTIME_DIR="$dir/run" XDG_DATA_HOME="$dir/data" HOME="$dir"
exec 5>"$dir/bus.out" 6>"$dir/bus.pid"
dbus-daemon --session --fork --nopidfile --print-address=5 --print-pid=6
exec 5>&- 6>&-
address=$(head -n1 "$dir/bus.out")
pid=$(head -n1 "$dir/bus.pid")
export DBUS_SESSION_BUS_ADDRESS="$address"
printf %s "test-keyring-password" | gnome-keyring-daemon --unlock --components=secrets >/dev/null 2>&1 &
call() { dbus-send --session --print-reply --dest="$1" "$2" "$3" "${@:4}" 2>/dev/null; }
# Wait for the daemon to own the name before touching it: an earlier probe would D-Bus-activate
# a second daemon.
for _ in $(seq 500); do
  if call org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus.NameHasOwner string:org.freedesktop.secrets | grep -q "boolean true"; then
    break
  fi
  sleep 0.01
done
for _ in $(seq 500); do
  if call org.freedesktop.secrets /org/freedesktop/secrets org.freedesktop.Secret.Service.ReadAlias string:default | grep -q "collection/login"; then
    printf 'export DBUS_SESSION_BUS_ADDRESS=%q; export SECRET_SERVICE_BUS_PID=%s;\n' "$address" "$pid"
    exit 0
  fi
  sleep 0.01
done
echo "secret-service.sh: gnome-keyring did not come up on $address" >&2
kill "$pid" 2>/dev/null || true
exit 1
