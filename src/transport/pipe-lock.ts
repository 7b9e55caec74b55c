import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { CredagentError } from "../errors.ts";
import { closeHandle, ERROR_SHARING_VIOLATION, openUnshared } from "../native/kernel32.ts";

/**
 * The single-instance lock of one pipe name on Windows: a file opened with no sharing. Windows
 * closes a process's handles when it exits, however it exits, so a crashed agent leaves no lock.
 * libuv's FILE_FLAG_FIRST_PIPE_INSTANCE would refuse a second agent on its own, but not every
 * Windows-compatible system honours it (Wine does not), and this lock does not depend on it.
 */
export class PipeLock {
  private constructor(private handle: number | undefined) {}

  /** The lock, or null when another live agent holds it. */
  static tryAcquire(path: string): PipeLock | null {
    mkdirSync(dirname(path), { recursive: true });
    const opened = openUnshared(path);
    if ("handle" in opened) return new PipeLock(opened.handle);
    if (opened.error === ERROR_SHARING_VIOLATION) return null;
    throw new CredagentError(
      "unsafe_path",
      `cannot open the lock file ${path} (Windows error ${opened.error}); check that its directory is yours`,
    );
  }

  release(): void {
    if (this.handle === undefined) return;
    closeHandle(this.handle);
    this.handle = undefined;
  }
}
