import { dlopen, FFIType, ptr } from "bun:ffi";
import { CredagentError } from "../errors.ts";

// The few Win32 calls Bun does not expose. Today one: a file opened with no sharing, the agent's
// single-instance lock on Windows (transport/pipe-lock.ts). Loaded on first use.

const symbols = {
  CreateFileW: {
    args: [FFIType.ptr, FFIType.u32, FFIType.u32, FFIType.ptr, FFIType.u32, FFIType.u32, FFIType.ptr],
    returns: FFIType.i64_fast,
  },
  CloseHandle: { args: [FFIType.i64_fast], returns: FFIType.i32 },
  GetLastError: { args: [], returns: FFIType.u32 },
} as const;

type Kernel32 = ReturnType<typeof dlopen<typeof symbols>>["symbols"];
let loaded: Kernel32 | undefined;

function kernel32(): Kernel32 {
  if (process.platform !== "win32") throw new CredagentError("not_implemented", "kernel32 exists only on Windows");
  loaded ??= dlopen("kernel32.dll", symbols).symbols;
  return loaded;
}

const GENERIC_READ = 0x80000000;
const GENERIC_WRITE = 0x40000000;
const OPEN_ALWAYS = 4;
const FILE_ATTRIBUTE_NORMAL = 0x80;
const INVALID_HANDLE_VALUE = -1;
export const ERROR_SHARING_VIOLATION = 32;

/** A handle to `path` (created if absent) that no other process can open while it is held; or the Win32 error. */
export function openUnshared(path: string): { handle: number } | { error: number } {
  const k = kernel32();
  const wide = Buffer.from(`${path}\0`, "utf16le");
  const handle = Number(k.CreateFileW(ptr(wide), GENERIC_READ | GENERIC_WRITE, 0, null, OPEN_ALWAYS, FILE_ATTRIBUTE_NORMAL, null));
  if (handle === INVALID_HANDLE_VALUE) return { error: k.GetLastError() };
  return { handle };
}

export function closeHandle(handle: number): void {
  kernel32().CloseHandle(handle);
}
