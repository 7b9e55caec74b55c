import { closeSync, constants, openSync } from "node:fs";
import { CredagentError } from "../errors.ts";
import { libc } from "../native/libc.ts";

const LOCK_EX = 2;
const LOCK_NB = 4;

/**
 * The single-instance lock of one socket path. The kernel drops an flock when its holder dies,
 * however it dies, so a crashed agent never leaves a lock behind, unlike a pid file.
 */
export class InstanceLock {
  private constructor(private fd: number | undefined) {}

  /** The lock, or null when another live agent holds it. */
  static tryAcquire(path: string): InstanceLock | null {
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
    return new InstanceLock(fd);
  }

  release(): void {
    if (this.fd === undefined) return;
    closeSync(this.fd);
    this.fd = undefined;
  }
}
