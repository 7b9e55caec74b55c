import { closeSync, constants, mkdirSync, openSync, rmSync, writeSync } from "node:fs";
import { dirname } from "node:path";

/**
 * A random 256-bit token for this agent's lifetime, in a file only the user can read. Required on
 * named pipes (whose DACL Node and Bun cannot set) and wherever the config asks.
 */
export function createSessionToken(path: string): { token: string; verify(authorization: string | undefined): boolean; remove(): void } {
  const token = Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("hex");
  // Beside the socket, whose directory exists; for a pipe, in the state directory, which may not yet.
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  rmSync(path, { force: true });
  const fd = openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | (constants.O_NOFOLLOW ?? 0), 0o600);
  try {
    writeSync(fd, `${token}\n`);
  } finally {
    closeSync(fd);
  }
  const expected = Buffer.from(`Bearer ${token}`);
  return {
    token,
    verify(authorization) {
      if (authorization === undefined) return false;
      const given = Buffer.from(authorization);
      return given.length === expected.length && crypto.timingSafeEqual(given, expected);
    },
    remove: () => rmSync(path, { force: true }),
  };
}
