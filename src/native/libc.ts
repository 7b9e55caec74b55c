import { dlopen, FFIType } from "bun:ffi";
import { CredagentError } from "../errors.ts";

// The few libc calls Bun does not expose: getsockopt (peer credentials) and flock (the agent's
// single-instance lock). Loaded on first use, so client commands never pay for it.

const LIBC_NAMES: Partial<Record<NodeJS.Platform, string[]>> = {
  linux: ["libc.so.6", "libc.musl-x86_64.so.1", "libc.musl-aarch64.so.1", "libc.so"],
  darwin: ["libSystem.B.dylib"],
  freebsd: ["libc.so.7"],
};

const symbols = {
  getsockopt: { args: [FFIType.i32, FFIType.i32, FFIType.i32, FFIType.ptr, FFIType.ptr], returns: FFIType.i32 },
  flock: { args: [FFIType.i32, FFIType.i32], returns: FFIType.i32 },
} as const;

type Libc = ReturnType<typeof dlopen<typeof symbols>>["symbols"];
let loaded: Libc | undefined;

export function libc(): Libc {
  if (loaded) return loaded;
  const names = LIBC_NAMES[process.platform];
  if (!names) throw new CredagentError("not_implemented", `native calls are not implemented on ${process.platform}`);
  let lastError: unknown;
  for (const name of names) {
    try {
      loaded = dlopen(name, symbols).symbols;
      return loaded;
    } catch (err) {
      lastError = err;
    }
  }
  throw new CredagentError("not_implemented", `cannot load the C library (${names.join(", ")})`, { cause: lastError });
}
