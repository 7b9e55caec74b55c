#!/usr/bin/env bash
# The whole test suite: installs what it needs, builds the binary, type-checks, runs every test
# (unit and end-to-end) with bun test, and ends with one line "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."

say() { printf 'test/run.sh: %s\n' "$*" >&2; }

# System parts the end-to-end tests use: curl (the reference client), pgrep (procps), and a real
# Secret Service: gnome-keyring on a private D-Bus session bus, with secret-tool to check it.
missing=()
command -v curl >/dev/null 2>&1 || missing+=(curl)
command -v pgrep >/dev/null 2>&1 || missing+=(procps)
command -v script >/dev/null 2>&1 || missing+=(bsdutils)
command -v python3 >/dev/null 2>&1 || missing+=(python3)
# The Python client installed as a package (pip install clients/python, and its wheel) into a venv.
[ -e /usr/lib/python3/dist-packages/pip ] || missing+=(python3-pip)
/usr/bin/python3 -c "import ensurepip" >/dev/null 2>&1 && ls /usr/share/python-wheels/pip-*.whl >/dev/null 2>&1 || missing+=(python3-venv)
command -v prlimit >/dev/null 2>&1 && command -v unshare >/dev/null 2>&1 && command -v nsenter >/dev/null 2>&1 || missing+=(util-linux)
command -v dbus-daemon >/dev/null 2>&1 || missing+=(dbus)
command -v dbus-send >/dev/null 2>&1 || missing+=(dbus-bin)
command -v gnome-keyring-daemon >/dev/null 2>&1 || missing+=(gnome-keyring)
command -v secret-tool >/dev/null 2>&1 || missing+=(libsecret-tools)
# The real programs the helper protocols are tested with: git, Debian's AWS CLI (its own path: a
# pip-installed aws may come first in PATH), kubectl, and the docker CLI (no daemon needed).
command -v git >/dev/null 2>&1 || missing+=(git)
[ -x /usr/bin/aws ] || missing+=(awscli)
command -v kubectl >/dev/null 2>&1 || missing+=(kubernetes-client)
command -v docker >/dev/null 2>&1 || missing+=(docker.io)
# The Windows build runs under Wine, with a shim DLL built by mingw-w64 (test/support/windows/).
[ -x /usr/lib/wine/wine64 ] || missing+=(wine64)
command -v x86_64-w64-mingw32-gcc >/dev/null 2>&1 || missing+=(gcc-mingw-w64-x86-64-win32)
# The man pages are checked with groff.
command -v groff >/dev/null 2>&1 || missing+=(groff-base)
# The completion scripts' shells.
command -v zsh >/dev/null 2>&1 || missing+=(zsh)
command -v fish >/dev/null 2>&1 || missing+=(fish)
# Socket activation and unit checks: systemd-socket-activate and systemd-analyze.
command -v systemd-socket-activate >/dev/null 2>&1 || missing+=(systemd)
# A throwaway PostgreSQL cluster (test/support/postgres.ts) for the database tests.
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing+=(postgresql)
[ -e /usr/lib/python3/dist-packages/psycopg ] || missing+=(python3-psycopg)
# The cloud SDKs Debian ships, run against the loopback SDK endpoints under Debian's /usr/bin/python3:
# botocore (boto3), the Azure CLI (az) and azure-identity, and google-auth 1.x.
[ -e /usr/lib/python3/dist-packages/boto3 ] || missing+=(python3-boto3)
[ -x /usr/bin/az ] || missing+=(azure-cli)
[ -e /usr/lib/python3/dist-packages/azure/identity ] || missing+=(python3-azure)
[ -e /usr/lib/python3/dist-packages/google/auth/compute_engine ] || missing+=(python3-google-auth)
# The Azure tests' ARM stand-in's certificate (their network namespace needs ip: see Kerberos below).
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
# A throwaway Redis server (test/support/redis.ts), its CLI, and redis-py for the Redis proxy tests.
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
command -v redis-cli >/dev/null 2>&1 || missing+=(redis-tools)
[ -e /usr/lib/python3/dist-packages/redis ] || missing+=(python3-redis)
# A throwaway MariaDB server (test/support/mariadb.ts), its clients (mariadb, mysqlslap), PyMySQL, mysqlclient.
[ -x /usr/sbin/mariadbd ] || missing+=(mariadb-server)
command -v mariadb >/dev/null 2>&1 && command -v mysqlslap >/dev/null 2>&1 || missing+=(mariadb-client)
[ -e /usr/lib/python3/dist-packages/pymysql ] || missing+=(python3-pymysql)
[ -e /usr/lib/python3/dist-packages/MySQLdb ] || missing+=(python3-mysqldb)
# Java and Debian's JDBC drivers: JDBC URLs read back by the drivers, JDBC over the loopback listener.
command -v javac >/dev/null 2>&1 || missing+=(default-jdk-headless)
[ -e /usr/share/java/postgresql.jar ] || missing+=(libpostgresql-jdbc-java)
[ -e /usr/share/java/mariadb-java-client.jar ] || missing+=(libmariadb-java)
# Kerberos (test/support/kdc.ts): an MIT KDC in a throwaway realm, klist and kinit for the clients'
# side, the libraries the agent loads (libkrb5, libgssapi_krb5), and ip for the tests' own network
# namespaces; OpenLDAP's slapd and its tools for PostgreSQL's ldap method.
[ -x /usr/sbin/krb5kdc ] || missing+=(krb5-kdc)
[ -x /usr/sbin/kadmin.local ] || missing+=(krb5-admin-server)
command -v klist >/dev/null 2>&1 || missing+=(krb5-user)
ls /usr/lib/*/libgssapi_krb5.so.2 >/dev/null 2>&1 || missing+=(libgssapi-krb5-2)
command -v ip >/dev/null 2>&1 || missing+=(iproute2)
[ -x /usr/sbin/slapd ] || missing+=(slapd)
command -v ldapadd >/dev/null 2>&1 || missing+=(ldap-utils)
# An HTTP service behind Negotiate (test/support/negotiate-server.py): MIT GSS-API's acceptor from Python.
[ -e /usr/lib/python3/dist-packages/gssapi ] || missing+=(python3-gssapi)
# Kept files in YAML are read back by a real YAML parser (test/e2e/files.test.ts).
[ -e /usr/lib/python3/dist-packages/yaml ] || missing+=(python3-yaml)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    say "installing ${missing[*]}"
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"; } >/dev/null \
      || { say "apt-get install ${missing[*]} failed"; echo "0 passed, 1 failed"; exit 1; }
  else
    say "missing ${missing[*]}: install them (sudo apt-get install ${missing[*]}) and run again"
    echo "0 passed, 1 failed"
    exit 1
  fi
fi

if [ ! -x node_modules/.bin/bun ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  say "npm ci"
  npm ci --no-audit --no-fund >/dev/null || { say "npm ci failed"; echo "0 passed, 1 failed"; exit 1; }
fi

say "building build/credagent"
scripts/build.sh >/dev/null || { say "build failed"; echo "0 passed, 1 failed"; exit 1; }

say "checking the formatting (biome format: 'npx biome format --write .' fixes it)"
if ! node_modules/.bin/biome format . >/dev/null 2>&1; then
  node_modules/.bin/biome format . 2>&1 | grep -E '^[^ ].* format ' | head -n 20 >&2
  say "files are not formatted: run 'npx biome format --write .'"
  echo "0 passed, 1 failed"
  exit 1
fi

say "type-checking"
if ! node_modules/.bin/tsc --noEmit -p .; then
  say "tsc found type errors"
  echo "0 passed, 1 failed"
  exit 1
fi

log=$(mktemp)
keyring_dir=$(mktemp -d /tmp/ca-keyring-XXXXXX)
# This run's own directory: servers the tests start (PostgreSQL), the Wine prefix, told apart from
# other runs' (two runs at once on one machine must not touch each other's processes or files).
run_dir=$(mktemp -d /tmp/ca-run-XXXXXX)
chmod 711 "$run_dir"   # the server runs as the postgres user: it must pass through
# Every test stops what it started; should one fail to, nothing it started outlives this command,
# and the run fails (leftovers=1): a leak is a bug in a test or in the code it tests. What counts as
# this run's: a process whose environment or command line names $run_dir (CREDAGENT_TEST_RUN_DIR,
# set below, is inherited by everything the tests start with the suite's environment; Wine's
# processes carry their WINEPREFIX), or whose command line names this clone's build or support
# scripts (test/support/processes.ts). Never a program's name machine-wide.
leftovers=0
stop_leftovers() {
  local left pids
  left=$(node_modules/.bin/bun test/support/processes.ts "$run_dir" "$PWD" 2>/dev/null || true)
  if [ -n "$left" ]; then
    say "FAIL: killing processes that outlived their tests: $(echo "$left" | tr '\n' ';')"
    pids=$(echo "$left" | cut -d' ' -f1)
    kill -9 $pids 2>/dev/null
    # Gone before their directories are removed.
    for _ in $(seq 50); do kill -0 $pids 2>/dev/null || break; sleep 0.1; done
    leftovers=1
  fi
}
cleanup() {
  [ -n "${SECRET_SERVICE_BUS_PID:-}" ] && kill "$SECRET_SERVICE_BUS_PID" 2>/dev/null
  stop_leftovers
  rm -rf "$log" "$keyring_dir" "$run_dir"
}
trap cleanup EXIT
say "starting a private Secret Service (gnome-keyring on its own D-Bus session bus)"
if ! services=$(test/support/secret-service.sh "$keyring_dir"); then
  say "the Secret Service did not start"
  echo "0 passed, 1 failed"
  exit 1
fi
eval "$services"
# Exported after the Secret Service started: it is the run's own, stopped above, not a test's leftover.
export CREDAGENT_TEST_RUN_DIR=$run_dir
export CREDAGENT_TEST_SECRET_SERVICE=1
node_modules/.bin/bun test --timeout 30000 "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
stop_leftovers
# -a: a failure's message may quote binary bytes (the memory tests show what they found).
passed=$(grep -aEo '^ *[0-9]+ pass$' "$log" | tail -1 | grep -Eo '[0-9]+' || echo 0)
failed=$(grep -aEo '^ *[0-9]+ fail$' "$log" | tail -1 | grep -Eo '[0-9]+' || echo 0)
if [ "$status" -ne 0 ] && [ "$failed" = 0 ]; then failed=1; fi
if [ "$passed" = 0 ] && [ "$failed" = 0 ]; then failed=1; fi
if [ "$leftovers" = 1 ]; then
  failed=$((failed + 1))
  [ "$status" -ne 0 ] || status=1
fi
echo "${passed} passed, ${failed} failed"
exit "$status"
