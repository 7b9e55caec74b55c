#!/usr/bin/env bash
# Puts the OS keyring binding of a Bun target into node_modules, so that a cross build embeds it:
# scripts/target-binding.sh bun-windows-x64. npm installs @napi-rs/keyring's prebuilt binding for
# this machine only (each platform's is an optional dependency); without the target's, a binary
# built here for Windows or macOS would have no OS keyring. The package is fetched with npm pack at
# the version package-lock.json records and checked against the integrity recorded there.
set -euo pipefail
cd "$(dirname "$0")/.."
case "${1:?a Bun target, e.g. bun-windows-x64}" in
  bun-linux-x64|bun-linux-x64-baseline) triple=linux-x64-gnu ;;
  bun-linux-arm64) triple=linux-arm64-gnu ;;
  bun-linux-x64-musl) triple=linux-x64-musl ;;
  bun-linux-arm64-musl) triple=linux-arm64-musl ;;
  bun-darwin-x64) triple=darwin-x64 ;;
  bun-darwin-arm64) triple=darwin-arm64 ;;
  bun-windows-x64|bun-windows-x64-baseline) triple=win32-x64-msvc ;;
  *) echo "target-binding.sh: no keyring binding known for $1" >&2; exit 2 ;;
esac
pkg="@napi-rs/keyring-$triple"
dest="node_modules/$pkg"
read -r version integrity < <(node -e '
  const lock = require("./package-lock.json").packages["node_modules/" + process.argv[1]];
  if (!lock) { console.error(`target-binding.sh: package-lock.json does not list ${process.argv[1]}`); process.exit(1); }
  console.log(lock.version, lock.integrity);' "$pkg")
if [ -f "$dest/package.json" ] && [ "$(node -p "require('./$dest/package.json').version")" = "$version" ]; then
  exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
npm pack "$pkg@$version" --pack-destination "$tmp" --silent >/dev/null
tarball=$(ls "$tmp"/*.tgz)
actual=$(node -e 'console.log("sha512-" + require("crypto").createHash("sha512").update(require("fs").readFileSync(process.argv[1])).digest("base64"))' "$tarball")
if [ "$actual" != "$integrity" ]; then
  echo "target-binding.sh: $pkg@$version does not match package-lock.json's integrity; not used" >&2
  exit 1
fi
mkdir -p "$tmp/x" "$dest"
tar xzf "$tarball" -C "$tmp/x"
cp -R "$tmp/x/package/." "$dest/"
