#!/usr/bin/env bash
# Runs every benchmark and prints a table; `bench/run.sh --write` also rewrites BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v hyperfine >/dev/null 2>&1 || ! command -v curl >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends hyperfine curl >/dev/null
  else
    echo "bench: needs hyperfine and curl (sudo apt-get install hyperfine curl)" >&2
    exit 1
  fi
fi
[ -x node_modules/.bin/bun ] || npm ci --no-audit --no-fund >/dev/null
scripts/build.sh >/dev/null
exec node_modules/.bin/bun bench/run.ts "$@"
