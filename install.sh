#!/usr/bin/env bash
# Installs credagent for the current user and starts the agent.
#   ./install.sh                     installs into ~/.local/bin
#   PREFIX=/usr/local ./install.sh   installs into /usr/local/bin
#   ./install.sh --service           also starts the agent with the session (credagent service install)
# From a release archive it installs the binary the archive ships: no Node or npm needed. From a
# checkout it builds the binary first, which needs Node.js >= 18 and npm (Bun comes in as an npm
# package), and the Node client library (clients/node/dist). Safe to run again (an upgrade): it
# replaces the binary atomically, and a running agent of the previous binary is restarted on the new
# one (or, when it cannot be, install.sh says that it must be).
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
  # Errors only: with Debian 12's Node 18, npm warns once per development package (the test
  # suite's SDKs and servers) that wants Node 20, some 150 lines for a build that works.
  npm ci --no-audit --no-fund --loglevel=error >/dev/null
  echo "Building the single executable..."
  scripts/build.sh >/dev/null
  binary=build/credagent
  echo "Building the Node client library (clients/node/dist)..."
  clients/node/build.sh >/dev/null
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
completion="$prefix/share/bash-completion/completions/credagent"
"$bindir/credagent" completion bash > "$completion"
echo "Installed man credagent, man credagent.toml and bash completion under $prefix/share"
# Only the bash-completion package makes bash look in that directory; without it, bash needs a line.
completion_line=""
if [ ! -f /usr/share/bash-completion/bash_completion ] && [ ! -f /etc/bash_completion ] && [ ! -f /usr/local/share/bash-completion/bash_completion ]; then
  completion_line="[ -f $completion ] && . $completion"
fi

if [ "$service" = 1 ]; then
  "$bindir/credagent" service install
fi

# An agent already running from the binary just replaced runs the old code (its allow rules then
# refuse the new CLI): restart it on the new one, or say that it must be restarted.
if "$bindir/credagent" status >/dev/null 2>&1; then
  if ! "$bindir/credagent" restart --if-outdated 2>&1 >/dev/null; then
    echo "install.sh: the running agent still runs the previous credagent and was not restarted (above: why); restart it with: $bindir/credagent restart" >&2
  fi
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
if [ -n "$completion_line" ]; then
  cat <<TXT
Bash completion: bash reads $completion only through the bash-completion package, which is not
installed here (apt-get install bash-completion); or add this line to ~/.bashrc:

    $completion_line
TXT
fi
case ":$PATH:" in
  *":$bindir:"*) ;;
  *) echo "Note: $bindir is not on your PATH; add it, e.g. export PATH=\"$bindir:\$PATH\"" ;;
esac
