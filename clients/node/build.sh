#!/usr/bin/env bash
# Bundles the client for plain Node >= 18 (ESM and CommonJS) with esbuild, and its type declarations.
set -euo pipefail
cd "$(dirname "$0")"
root=../..
rm -rf dist
for format in esm cjs; do
  ext=$([ "$format" = esm ] && echo mjs || echo cjs)
  "$root/node_modules/.bin/esbuild" src/index.ts --bundle --platform=node --target=node18 --format="$format" --outfile="dist/index.$ext" --log-level=warning
done
"$root/node_modules/.bin/tsc" src/index.ts --declaration --emitDeclarationOnly --outDir dist --target ES2022 --module nodenext --moduleResolution nodenext --types node --skipLibCheck --strict --ignoreConfig
