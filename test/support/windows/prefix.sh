#!/usr/bin/env bash
# Makes a throwaway Wine prefix that runs Bun's Windows executables: prefix.sh DIR
# (wine64 and the mingw-w64 compiler come from test/run.sh's apt list). Prints nothing on success.
# Debian's Wine keeps its server's directory in $TMPDIR/wine-XXXXXX and never removes it: callers
# give a TMPDIR of their own (removed with the prefix), and the same one to every later Wine command
# of this prefix, which finds its server through it.
set -euo pipefail
prefix="$1"
here="$(cd "$(dirname "$0")" && pwd)"
[ -n "${TMPDIR:-}" ] || { echo "prefix.sh: set TMPDIR to a directory of the caller's (Wine leaves wine-XXXXXX in it)" >&2; exit 2; }
export WINEPREFIX="$prefix" WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml=" DISPLAY=
mkdir -p "$prefix"
# Wine's helpers inherit stdio and outlive wineboot: their output goes to a file, never a pipe.
"${WINE:-/usr/lib/wine/wine64}" wineboot --init > "$prefix/wineboot.log" 2>&1 || { cat "$prefix/wineboot.log" >&2; exit 1; }
"${WINESERVER:-/usr/lib/wine/wineserver64}" -w
x86_64-w64-mingw32-gcc -shared -O2 -o "$prefix/drive_c/windows/system32/bcryptprimitives.dll" "$here/bcryptprimitives.c" -lbcrypt
