import { fstatSync } from "node:fs";
import { libc } from "../native/libc.ts";
import type { FileIdentity } from "../log/sink.ts";

/**
 * Points the agent's stdout and stderr at `fd` where they were the file `old` (its log, which was
 * just rotated): what the runtime itself writes there (a crash report) lands in the current log,
 * not in the rotated one. Windows has no dup2 for this; there they keep writing where they were.
 */
export function stdioFollows(old: FileIdentity, fd: number): void {
  if (process.platform === "win32") return;
  for (const target of [1, 2]) {
    try {
      const { dev, ino } = fstatSync(target);
      if (dev === old.dev && ino === old.ino) libc().dup2(fd, target);
    } catch {
      // A closed descriptor: nothing to follow.
    }
  }
}
