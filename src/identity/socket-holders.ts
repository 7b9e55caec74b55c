import { readdirSync, readlinkSync, statSync } from "node:fs";

// Which processes hold a socket, by its inode: each open descriptor is a link in /proc/PID/fd
// that reads "socket:[INODE]" for a socket, which is how ss -p and lsof name a TCP connection's
// process. A loopback TCP peer has no SO_PEERCRED, but sock_diag names its socket's owner and
// inode by the exact 4-tuple (sock-diag.ts); this finds the process behind that inode, so that
// allow rules naming a program apply over TCP as on the Unix socket. Only processes of the uid
// the kernel named are read (their /proc/PID/fd is readable by that user; another user's is not,
// and is not needed: that uid is refused before this is asked).

/** The parts of /proc read, injected so the search is unit-tested on a fake tree. */
export interface ProcFds {
  /** The numeric entries of /proc. */
  pids(): number[];
  /** The uid owning /proc/PID (the process's real uid), or null when it is gone. */
  owner(pid: number): number | null;
  /** The link targets in /proc/PID/fd; empty when unreadable or gone. */
  fdTargets(pid: number): string[];
  /** The gid owning /proc/PID (the process's real gid). */
  gid?(pid: number): number | null;
}

export const procFds: ProcFds = {
  pids: () =>
    readdirSync("/proc")
      .filter((e) => /^\d+$/.test(e))
      .map(Number),
  owner(pid) {
    try {
      return statSync(`/proc/${pid}`).uid;
    } catch {
      return null;
    }
  },
  gid(pid) {
    try {
      return statSync(`/proc/${pid}`).gid;
    } catch {
      return null;
    }
  },
  fdTargets(pid) {
    const dir = `/proc/${pid}/fd`;
    let entries: string[];
    try {
      entries = readdirSync(dir);
    } catch {
      return [];
    }
    const out: string[] = [];
    for (const fd of entries) {
      try {
        out.push(readlinkSync(`${dir}/${fd}`));
      } catch {
        // closed meanwhile
      }
    }
    return out;
  },
};

/**
 * The pids of `uid`'s processes holding the socket `inode`. `first`: pids to look at before the
 * rest (the one that held the last connection: a pool connects again and again from one
 * process), each only once; `except`: never a holder (the agent itself holds the other end's
 * inode, not this one, but is skipped to save its own descriptors' reads).
 */
export function socketHolders(
  inode: number,
  uid: number,
  proc: ProcFds = procFds,
  options: { first?: number[]; except?: number } = {},
): number[] {
  if (!Number.isInteger(inode) || inode <= 0) return [];
  const target = `socket:[${inode}]`;
  const holders: number[] = [];
  const seen = new Set<number>();
  const look = (pid: number) => {
    if (seen.has(pid) || pid === options.except) return;
    seen.add(pid);
    if (proc.owner(pid) !== uid) return;
    if (proc.fdTargets(pid).includes(target)) holders.push(pid);
  };
  for (const pid of options.first ?? []) look(pid);
  // A descriptor may be shared (inherited across fork): every holder is found, so that the
  // caller can tell one process from several.
  for (const pid of proc.pids()) look(pid);
  return holders.sort((a, b) => a - b);
}
