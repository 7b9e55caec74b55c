import { closeSync, constants, fstatSync, lstatSync, openSync, unlinkSync } from "node:fs";
import { CredagentError } from "../errors.ts";
import { libc } from "../native/libc.ts";

const LOCK_EX = 2;
const LOCK_NB = 4;

/**
 * The single-instance lock of one socket path. The kernel drops an flock when its holder dies,
 * however it dies, so a crashed agent never leaves a lock behind, unlike a pid file. An orderly
 * stop removes the file too, while still holding the lock: a later agent that opened the old file
 * before it went finds, once it holds the lock, that its file is no longer the one at the path
 * (checked by device and inode) and tries again with the new one, so two agents never each hold
 * a lock on a different file of the same name.
 */
export class InstanceLock {
  private constructor(
    private fd: number | undefined,
    private readonly path: string,
  ) {}

  /** The lock, or null when another live agent holds it. */
  static tryAcquire(path: string): InstanceLock | null {
    for (let attempt = 0; ; attempt += 1) {
      let fd: number;
      try {
        fd = openSync(path, constants.O_RDWR | constants.O_CREAT | constants.O_NOFOLLOW, 0o600);
      } catch (err) {
        throw new CredagentError(
          "unsafe_path",
          `cannot open the lock file ${path}: ${(err as NodeJS.ErrnoException).code}; remove it if it is a link`,
          { cause: err },
        );
      }
      if (libc().flock(fd, LOCK_EX | LOCK_NB) !== 0) {
        closeSync(fd);
        return null;
      }
      if (isFileAt(fd, path)) return new InstanceLock(fd, path);
      // Removed (or replaced) by the agent that held it as we opened it: the lock held is on a
      // file nobody else will open. Again, with the file now at the path.
      closeSync(fd);
      if (attempt >= 10) throw new CredagentError("unavailable", `the lock file ${path} keeps being replaced; try again`);
    }
  }

  /** Releases the lock and leaves the file (for a failed start: the next agent reuses it). */
  release(): void {
    if (this.fd === undefined) return;
    closeSync(this.fd);
    this.fd = undefined;
  }

  /** Removes the lock file while still holding the lock, then releases it: an orderly stop leaves nothing behind. */
  releaseAndRemove(): void {
    if (this.fd === undefined) return;
    try {
      if (isFileAt(this.fd, this.path)) unlinkSync(this.path);
    } catch {
      // gone already, or the directory went with the agent's runtime directory
    }
    this.release();
  }
}

/** Whether the open file is the one at path now (same device and inode). */
function isFileAt(fd: number, path: string): boolean {
  try {
    const open = fstatSync(fd);
    const named = lstatSync(path);
    return open.dev === named.dev && open.ino === named.ino;
  } catch {
    return false;
  }
}
