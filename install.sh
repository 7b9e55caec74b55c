#!/usr/bin/env bash
# Installs credagent for the current user and starts the agent.
#   ./install.sh                     installs into ~/.local/bin
#   PREFIX=/usr/local ./install.sh   installs into /usr/local/bin
#   ./install.sh --service           also starts the agent with the session (credagent service install)
# From a release archive it installs the binary the archive ships: no Node or npm needed. From a
# checkout it builds the binary first, which needs Node.js >= 18 and npm (Bun comes in as an npm
# package). Safe to run again: it replaces the binary atomically and leaves a running agent alone.
set -euo pipefail
cd "$(dirname "$0")"

die() { printf 'install.sh: %s\n' "$*" >&2; exit 1; }
service=0
for arg in "$@"; do
  case "$arg" in
    --service) service=1 ;;
    *) die "unknown option $arg (usage: ./install.sh [--service])" ;;
  esac
done

prefix="${PREFIX:-$HOME/.local}"
bindir="$prefix/bin"

if [ -x bin/credagent ] && [ ! -f package.json ]; then
  # An unpacked release archive: bin/credagent is the binary for this platform.
  binary=bin/credagent
else
  command -v node >/dev/null 2>&1 || die "Node.js is missing: install it first (Debian/Ubuntu: sudo apt-get install nodejs npm)"
  command -v npm >/dev/null 2>&1 || die "npm is missing: install it first (Debian/Ubuntu: sudo apt-get install npm)"
  major=$(node -p 'process.versions.node.split(".")[0]')
  [ "$major" -ge 18 ] || die "Node.js $(node -v) is too old to build credagent: 18 or newer is needed (Debian 12's nodejs is 18), or install from a release archive, which needs no Node"
  echo "Installing dependencies (npm ci)..."
  npm ci --no-audit --no-fund >/dev/null
  echo "Building the single executable..."
  scripts/build.sh >/dev/null
  binary=build/credagent
fi

mkdir -p "$bindir"
tmp="$bindir/.credagent.$$"
cp "$binary" "$tmp"
chmod 755 "$tmp"
mv -f "$tmp" "$bindir/credagent"
# The docker credential helper is the same binary under the name docker looks for.
ln -sfn credagent "$bindir/docker-credential-credagent"
echo "Installed $bindir/credagent ($("$bindir/credagent" version)) and $bindir/docker-credential-credagent"
# Man pages (man-db finds $prefix/share/man from $prefix/bin on PATH) and bash completion.
mkdir -p "$prefix/share/man/man1" "$prefix/share/man/man5" "$prefix/share/bash-completion/completions"
"$bindir/credagent" manpage 1 > "$prefix/share/man/man1/credagent.1"
"$bindir/credagent" manpage 5 > "$prefix/share/man/man5/credagent.toml.5"
"$bindir/credagent" completion bash > "$prefix/share/bash-completion/completions/credagent"
echo "Installed man credagent, man credagent.toml and bash completion under $prefix/share"

if [ "$service" = 1 ]; then
  "$bindir/credagent" service install
fi

echo "Starting the agent..."
if ! "$bindir/credagent" start -s >/dev/null; then
  die "the agent did not start; run '$bindir/credagent agent -d' to see why"
fi
"$bindir/credagent" status || true

cat <<TXT

Done. To use the agent in your shells, add this line to ~/.bashrc (or ~/.zshrc):

    eval "\$($bindir/credagent start)"

csh: eval \`$bindir/credagent start -c\`    fish: $bindir/credagent start --fish | source
Configure credentials in \${XDG_CONFIG_HOME:-~/.config}/credagent/config.toml (see README.md).
TXT
case ":$PATH:" in
  *":$bindir:"*) ;;
  *) echo "Note: $bindir is not on your PATH; add it, e.g. export PATH=\"$bindir:\$PATH\"" ;;
esac
