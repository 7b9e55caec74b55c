#!/usr/bin/env bash
# The whole test suite: installs what it needs, builds the binary, type-checks, runs every test
# (unit and end-to-end) with bun test, and ends with one line "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."

say() { printf 'test/run.sh: %s\n' "$*" >&2; }

# System tools the end-to-end tests use: curl (the reference client), pgrep (procps).
missing=()
command -v curl >/dev/null 2>&1 || missing+=(curl)
command -v pgrep >/dev/null 2>&1 || missing+=(procps)
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

say "type-checking"
if ! node_modules/.bin/tsc --noEmit -p .; then
  say "tsc found type errors"
  echo "0 passed, 1 failed"
  exit 1
fi

log=$(mktemp)
trap 'rm -f "$log"' EXIT
node_modules/.bin/bun test --timeout 30000 "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
passed=$(grep -Eo '^ *[0-9]+ pass$' "$log" | tail -1 | grep -Eo '[0-9]+' || echo 0)
failed=$(grep -Eo '^ *[0-9]+ fail$' "$log" | tail -1 | grep -Eo '[0-9]+' || echo 0)
if [ "$status" -ne 0 ] && [ "$failed" = 0 ]; then failed=1; fi
if [ "$passed" = 0 ] && [ "$failed" = 0 ]; then failed=1; fi
echo "${passed} passed, ${failed} failed"
exit "$status"
