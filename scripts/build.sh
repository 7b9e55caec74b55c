#!/usr/bin/env bash
# Builds the single executable: build/credagent for this machine, or, with a Bun target
# (bun-linux-arm64, bun-darwin-arm64, bun-windows-x64, ...), build/credagent-TARGET.
# --bytecode keeps CLI start-up near 4 ms; --format=esm --splitting puts each command (and the
# agent) in chunks of their own inside the binary, so a command loads only what it runs (measured:
# `version` touched 1,190 pages as one chunk, 870 split; a compiled hello touches 610). The two
# --no-compile-autoload flags stop a compiled binary from reading .env and bunfig.toml (whose
# preload runs code) from the current directory. src/kerberos/worker.ts is a second entry point: the
# agent runs it as a Worker thread (Kerberos calls that may wait on a KDC), and a compiled binary
# only has the workers it was built with.
set -euo pipefail
cd "$(dirname "$0")/.."
target="${1:-}"
version=$(node -p 'require("./package.json").version')
out=build/credagent
args=()
if [ -n "$target" ]; then
  out="build/credagent-${target#bun-}"
  args+=(--target="$target")
  scripts/target-binding.sh "$target"
fi
mkdir -p build
exec node_modules/.bin/bun build src/main.ts src/kerberos/worker.ts --compile --minify --bytecode --format=esm --splitting --sourcemap=none \
  --no-compile-autoload-dotenv --no-compile-autoload-bunfig \
  --define "CREDAGENT_VERSION=\"$version\"" "${args[@]}" --outfile "$out"
