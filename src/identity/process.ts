import { readFileSync } from "node:fs";

/**
 * Whether a process has ended. kill(pid, 0) still succeeds on a zombie, and a detached agent's
 * zombie waits for whatever reaps orphans (some inits are slow at it), so on Linux the state in
 * /proc decides.
 */
export function processEnded(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "ESRCH";
  }
  if (process.platform !== "linux") return false;
  try {
    // /proc/PID/stat: "pid (comm) S ..."; comm may hold spaces and parentheses, so split at the last ')'.
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) === "Z";
  } catch {
    return true;
  }
}
