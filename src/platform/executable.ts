import { statSync } from "node:fs";

// Whether the program file this process runs was replaced since it started: an upgrade
// (install.sh renames a new binary over the old one) leaves the running agent on the old code,
// whose allow rules then refuse the new CLI ("was credagent upgraded?"). Checked by the path's
// device, inode, size and modification time; no OS branches (Windows cannot replace a running
// .exe at all, so there it never reads as replaced).

export interface ExecutableIdentity {
  dev: number;
  ino: number;
  size: number;
  mtimeMs: number;
}

export function executableIdentity(path: string): ExecutableIdentity | null {
  try {
    const st = statSync(path);
    return { dev: st.dev, ino: st.ino, size: st.size, mtimeMs: st.mtimeMs };
  } catch {
    return null;
  }
}

/** True when the file at path is no longer the one identified at start (replaced or removed). */
export function executableReplaced(path: string, atStart: ExecutableIdentity | null): boolean {
  if (!atStart) return false;
  const now = executableIdentity(path);
  if (!now) return true;
  return now.dev !== atStart.dev || now.ino !== atStart.ino || now.size !== atStart.size || now.mtimeMs !== atStart.mtimeMs;
}
