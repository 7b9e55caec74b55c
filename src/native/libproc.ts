import { dlopen, FFIType } from "bun:ffi";
import { CredagentError } from "../errors.ts";

// macOS only: proc_pidpath and proc_pidinfo from libproc (part of libSystem), for what /proc
// gives on Linux. Loaded on first use.

const symbols = {
  proc_pidpath: { args: [FFIType.i32, FFIType.ptr, FFIType.u32], returns: FFIType.i32 },
  proc_pidinfo: { args: [FFIType.i32, FFIType.i32, FFIType.u64, FFIType.ptr, FFIType.i32], returns: FFIType.i32 },
} as const;

type Libproc = ReturnType<typeof dlopen<typeof symbols>>["symbols"];
let loaded: Libproc | undefined;

export function libproc(): Libproc {
  if (process.platform !== "darwin") throw new CredagentError("not_implemented", "libproc exists only on macOS");
  loaded ??= dlopen("libSystem.B.dylib", symbols).symbols;
  return loaded;
}
