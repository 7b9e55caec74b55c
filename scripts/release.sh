#!/usr/bin/env bash
# Release archives that need no Node: scripts/release.sh [TARGET...] writes
# dist/credagent-VERSION-TARGET.tar.gz (a .zip for Windows) for each target (default: all five),
# each holding the binary, README.md, LICENSE, the man pages, completions, the client libraries
# (clients/: an npm tarball and a Python wheel) and an installer (install.sh; install.ps1 for
# Windows), and dist/SHA256SUMS. DIST=DIR writes them there instead.
set -euo pipefail
cd "$(dirname "$0")/.."
version=$(node -p 'require("./package.json").version')
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(linux-x64 linux-arm64 darwin-x64 darwin-arm64 windows-x64)
# Man pages and completions come from this machine's build (they are the same text everywhere);
# an existing one is used as it is (a running agent may be using it).
[ -x build/credagent ] || scripts/build.sh >/dev/null
native=build/credagent
dist="${DIST:-dist}"
mkdir -p "$dist"
dist=$(cd "$dist" && pwd)
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
# The client libraries, the same in every archive (clients/): the Node client as an npm pack
# tarball (npm install ./credagent-client-VERSION.tgz) and the Python client as a wheel
# (pip install credagent-VERSION-py3-none-any.whl), built by its stdlib-only backend.
libs="$stage/.clients"
mkdir -p "$libs"
clients/node/build.sh >/dev/null
(cd clients/node && npm pack --silent --pack-destination "$libs") >/dev/null
python3 clients/python/_backend.py "$libs" >/dev/null
for target in "${targets[@]}"; do
  case "$target" in
    linux-x64|linux-arm64|darwin-x64|darwin-arm64|windows-x64) ;;
    *) echo "release.sh: unknown target $target" >&2; exit 2 ;;
  esac
  scripts/build.sh "bun-$target" >/dev/null
  name="credagent-$version-$target"
  dir="$stage/$name"
  mkdir -p "$dir/bin" "$dir/man" "$dir/completions" "$dir/clients"
  cp "$libs"/* "$dir/clients/"
  exe=""
  [ "$target" = windows-x64 ] && exe=.exe
  cp "build/credagent-$target$exe" "$dir/bin/credagent$exe"
  cp README.md LICENSE "$dir/"
  "$native" manpage 1 > "$dir/man/credagent.1"
  "$native" manpage 5 > "$dir/man/credagent.toml.5"
  for shell in bash zsh fish; do "$native" completion "$shell" > "$dir/completions/credagent.$shell"; done
  if [ "$target" = windows-x64 ]; then
    cp scripts/install.ps1 "$dir/install.ps1"
    rm -f "$dist/$name.zip"
    (cd "$stage" && python3 -m zipfile -c "$dist/$name.zip" "$name")
  else
    cp install.sh "$dir/install.sh"
    tar -C "$stage" -czf "$dist/$name.tar.gz" "$name"
  fi
  echo "$dist/$name"
done
(cd "$dist" && sha256sum credagent-"$version"-* > SHA256SUMS)
echo "$dist/SHA256SUMS"
