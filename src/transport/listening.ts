import type net from "node:net";

// What every local listener shares: starting to listen, and a step run while holding the
// single-instance lock that must release the lock if it fails.

/** Resolves once `server` listens on `target`; rejects with the listen error. */
export function listening(server: net.Server, target: string | { fd: number }): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(target, () => {
      server.off("error", reject);
      resolve();
    });
  });
}

/** Runs `step` holding `lock`; a step that throws releases the lock first. */
export function whileLocked(lock: { release(): void }, step: () => void): void {
  try {
    step();
  } catch (err) {
    lock.release();
    throw err;
  }
}
