import { dlopen, FFIType } from "bun:ffi";
import { CredagentError } from "../errors.ts";

// The few libc calls Bun does not expose: getsockopt (peer credentials), getsockname (the path
// of a socket systemd passed us), flock (the agent's
// single-instance lock), getrlimit/setrlimit (core dumps off, descriptor limit raised), dup2
// (stdio following a rotated log). Loaded on
// first use, so client commands never pay for it. Calls that exist on one OS only (prctl,
// ptrace) are in their own tables: dlopen fails when any listed symbol is missing.

const LIBC_NAMES: Partial<Record<NodeJS.Platform, string[]>> = {
  linux: ["libc.so.6", "libc.musl-x86_64.so.1", "libc.musl-aarch64.so.1", "libc.so"],
  darwin: ["libSystem.B.dylib"],
  freebsd: ["libc.so.7"],
};

const symbols = {
  getsockopt: { args: [FFIType.i32, FFIType.i32, FFIType.i32, FFIType.ptr, FFIType.ptr], returns: FFIType.i32 },
  getsockname: { args: [FFIType.i32, FFIType.ptr, FFIType.ptr], returns: FFIType.i32 },
  flock: { args: [FFIType.i32, FFIType.i32], returns: FFIType.i32 },
  getrlimit: { args: [FFIType.i32, FFIType.ptr], returns: FFIType.i32 },
  setrlimit: { args: [FFIType.i32, FFIType.ptr], returns: FFIType.i32 },
  getenv: { args: [FFIType.cstring], returns: FFIType.ptr },
  // The agent's stdout and stderr follow its log file when it is rotated (src/platform/stdio.ts).
  dup2: { args: [FFIType.i32, FFIType.i32], returns: FFIType.i32 },
} as const;

const linuxSymbols = {
  prctl: { args: [FFIType.i32, FFIType.u64, FFIType.u64, FFIType.u64, FFIType.u64], returns: FFIType.i32 },
  // A netlink socket for sock_diag (the uid behind a loopback TCP connection, src/identity/sock-diag.ts).
  socket: { args: [FFIType.i32, FFIType.i32, FFIType.i32], returns: FFIType.i32 },
  send: { args: [FFIType.i32, FFIType.ptr, FFIType.u64, FFIType.i32], returns: FFIType.i64 },
  recv: { args: [FFIType.i32, FFIType.ptr, FFIType.u64, FFIType.i32], returns: FFIType.i64 },
  close: { args: [FFIType.i32], returns: FFIType.i32 },
  // Start-up's pages of read-only file mappings dropped once the agent is up (platform/startup-pages.ts).
  madvise: { args: [FFIType.u64, FFIType.u64, FFIType.i32], returns: FFIType.i32 },
} as const;

// glibc only (musl has no mallopt): its own table, so that its absence costs nothing else.
const glibcSymbols = {
  mallopt: { args: [FFIType.i32, FFIType.i32], returns: FFIType.i32 },
} as const;

export const darwinSymbols = {
  ptrace: { args: [FFIType.i32, FFIType.i32, FFIType.ptr, FFIType.i32], returns: FFIType.i32 },
  // int launch_activate_socket(const char *name, int **fds, size_t *cnt): the sockets launchd made
  // for a LaunchAgent's Sockets entry; *fds is malloc'd, the caller frees it.
  launch_activate_socket: { args: [FFIType.ptr, FFIType.ptr, FFIType.ptr], returns: FFIType.i32 },
  free: { args: [FFIType.ptr], returns: FFIType.void },
} as const;

type Libc = ReturnType<typeof dlopen<typeof symbols>>["symbols"];
let loaded: Libc | undefined;

export function libc(): Libc {
  loaded ??= openLibc(symbols);
  return loaded;
}

/** A table loaded on first use, on the one platform that has it; elsewhere a typed "not implemented". */
function onlyOn<S extends Parameters<typeof dlopen>[1]>(
  platform: NodeJS.Platform,
  table: S,
  missing: string,
): () => ReturnType<typeof dlopen<S>>["symbols"] {
  let opened: ReturnType<typeof dlopen<S>>["symbols"] | undefined;
  return () => {
    if (process.platform !== platform) throw new CredagentError("not_implemented", missing);
    opened ??= openLibc(table);
    return opened;
  };
}

export const linuxLibc = onlyOn("linux", linuxSymbols, "prctl exists only on Linux");
export const glibcMalloc = onlyOn("linux", glibcSymbols, "mallopt exists only in glibc");
export const darwinLibc = onlyOn("darwin", darwinSymbols, "ptrace(PT_DENY_ATTACH) and launch_activate_socket exist only on macOS");

function openLibc<S extends Parameters<typeof dlopen>[1]>(table: S): ReturnType<typeof dlopen<S>>["symbols"] {
  const names = LIBC_NAMES[process.platform];
  if (!names) throw new CredagentError("not_implemented", `native calls are not implemented on ${process.platform}`);
  let lastError: unknown;
  for (const name of names) {
    try {
      return dlopen(name, table).symbols;
    } catch (err) {
      lastError = err;
    }
  }
  throw new CredagentError("not_implemented", `cannot load the C library (${names.join(", ")})`, { cause: lastError });
}
