import { ffiFunctions, PLATFORMS } from "./unix-exchange.ts";

// isatty(3) through the C library the short paths already load (native/unix-exchange.ts), for
// `start`'s short path (cli/fast-start.ts), which must know whether it could ask on a terminal.
// node:tty (or process.stdin.isTTY, which loads it) costs a compiled program ~470 page faults,
// more than `start` itself; this costs ~40. In the CLI's entry chunk: imports nothing else.

const I32 = 5; // bun:ffi's FFIType.i32

/** Whether the descriptor is a terminal; null where the C library cannot be reached. */
export async function isTerminal(fd: number): Promise<boolean | null> {
  const platform = PLATFORMS[process.platform];
  if (!platform) return null;
  const ffi = await ffiFunctions();
  for (const name of platform.libc) {
    try {
      const { isatty } = ffi.dlopen(name, { isatty: { args: [I32], returns: I32 } } as never).symbols as unknown as {
        isatty(fd: number): number;
      };
      return isatty(fd) === 1;
    } catch {
      // the next name
    }
  }
  return null;
}
