#!/usr/bin/env bash
# Runs every benchmark and prints a table; `bench/run.sh --write` also rewrites BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v hyperfine >/dev/null 2>&1 || ! command -v curl >/dev/null 2>&1 || ! command -v gnome-keyring-daemon >/dev/null 2>&1 || ! command -v oidc-token >/dev/null 2>&1 || [ ! -x /usr/bin/time ] || ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || [ ! -x /usr/sbin/pgbouncer ] || [ ! -x /usr/sbin/mariadbd ] || ! command -v mysqlslap >/dev/null 2>&1 || [ ! -x /usr/lib/wine/wine64 ] || ! command -v x86_64-w64-mingw32-gcc >/dev/null 2>&1 || ! command -v cc >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends hyperfine curl dbus gnome-keyring libsecret-tools oidc-agent-cli time postgresql pgbouncer mariadb-server mariadb-client wine64 gcc-mingw-w64-x86-64-win32 gcc libc6-dev >/dev/null
  else
    echo "bench: needs hyperfine, curl, dbus, gnome-keyring, libsecret-tools, oidc-agent-cli, time, postgresql, pgbouncer, mariadb-server, mariadb-client, wine64, gcc-mingw-w64-x86-64-win32, gcc, libc6-dev (sudo apt-get install ...)" >&2
    exit 1
  fi
fi
[ -x node_modules/.bin/bun ] || npm ci --no-audit --no-fund >/dev/null
scripts/build.sh >/dev/null
# The warm-cache figure reads the keyring: a private Secret Service, as the tests use.
keyring_dir=$(mktemp -d /tmp/ca-bench-keyring-XXXXXX)
eval "$(test/support/secret-service.sh "$keyring_dir")"
trap 'kill "$SECRET_SERVICE_BUS_PID" 2>/dev/null; rm -rf "$keyring_dir"' EXIT
node_modules/.bin/bun bench/run.ts "$@"
