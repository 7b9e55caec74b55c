import type { ProcReader } from "./process-info.ts";

// Who a request is really from, and who may answer for it, from the process tree as the kernel
// shows it. Pure over a ProcReader, so every branch is unit-tested with a fake /proc.

/** One process as identified when the request came in: with the start time, what pins it against pid reuse. */
export interface ProcessFacts {
  pid: number;
  startTime: number | null;
  exe: string | null;
  uid: number | null;
  /** Session id then; null where it cannot be read. */
  sid: number | null;
}

export interface Attribution {
  /** The program answerable for the request: the peer itself, or, for credagent's own CLI, the program that ran it. Null when that cannot be verified. */
  program: ProcessFacts | null;
  /** credagent's own processes that carried the request, the socket peer first; empty for any other client. */
  via: ProcessFacts[];
  /** Why program is null. */
  unverified: string | null;
}

// `credagent exec -- credagent get` nests the CLI; deeper than this is not a plausible use.
const MAX_CLI_DEPTH = 8;
// Process trees are shallow; the bound only stops a loop on a corrupt or racing /proc.
const MAX_ANCESTORS = 128;

/**
 * Attributes a connection's request. A peer running the agent's own executable (same file, by
 * device and inode, not by name) is credagent's CLI acting for its parent: the parent is read and
 * checked against pid reuse, and walked past while it is credagent again.
 */
export function attribute(peer: ProcessFacts, own: OwnExecutable, proc: ProcReader): Attribution {
  const via: ProcessFacts[] = [];
  let current = { ...peer, sid: peer.sid ?? proc.stat(peer.pid)?.sid ?? null };
  for (let depth = 0; depth <= MAX_CLI_DEPTH; depth++) {
    const kind = classify(current, own, proc);
    if (kind === "other") return { program: current, via, unverified: null };
    if (kind !== "own") return { program: null, via: [...via, current], unverified: kind.unverified };
    via.push(current);
    if (depth === MAX_CLI_DEPTH) break;
    const parent = verifiedParent(current, proc);
    if (typeof parent === "string") return { program: null, via, unverified: parent };
    current = parent;
  }
  return { program: null, via, unverified: `credagent was run by credagent more than ${MAX_CLI_DEPTH} times in a row` };
}

/** The agent's executable: its file identity ("dev:ino") and its path. */
export interface OwnExecutable {
  file: string | null;
  path: string | null;
}

function classify(p: ProcessFacts, own: OwnExecutable, proc: ProcReader): "own" | "other" | { unverified: string } {
  const file = proc.exeFile(p.pid);
  const named = p.exe !== null && p.exe === own.path;
  // Unreadable (it exited, its pid is reused, or no /proc): a process named like the agent is
  // taken for the agent's CLI, so that its parent check fails closed rather than credagent being
  // approved as the program.
  if (file === null || proc.stat(p.pid)?.startTime !== p.startTime) return named ? "own" : "other";
  if (own.file !== null && file === own.file) return "own";
  if (named) {
    return {
      unverified: `pid ${p.pid} runs ${p.exe}, no longer the file this agent runs (was credagent upgraded?): restart the agent with credagent stop and credagent start`,
    };
  }
  return "other";
}

/** The parent of a credagent CLI process, or why it cannot be trusted to be the one that ran it. */
function verifiedParent(child: ProcessFacts, proc: ProcReader): ProcessFacts | string {
  const before = proc.stat(child.pid);
  if (!before && process.platform !== "linux") return "the program that ran credagent is not read on this system yet (Linux only)";
  if (!before || before.startTime !== child.startTime)
    return `credagent (pid ${child.pid}) exited before the program that ran it could be identified`;
  const ppid = before.ppid;
  // An orphan is adopted by init: its real caller is gone and init did not ask for anything.
  if (ppid <= 1) return `the program that ran credagent (pid ${child.pid}) has exited`;
  const stat = proc.stat(ppid);
  const exe = proc.exe(ppid);
  const uid = proc.uid(ppid);
  // Read after the parent's facts: if the parent had died meanwhile, the child would have been
  // reparented, so an unchanged ppid means the facts are of the process that ran it.
  const after = proc.stat(child.pid);
  if (!stat || exe === null) return `the program that ran credagent (pid ${ppid}) cannot be read`;
  if (!after || after.startTime !== child.startTime || after.ppid !== ppid)
    return `the program that ran credagent (pid ${ppid}) exited while it was being identified`;
  if (child.startTime === null || stat.startTime > child.startTime)
    return `pid ${ppid} started after credagent (pid ${child.pid}): not the program that ran it`;
  return { pid: ppid, startTime: stat.startTime, exe, uid, sid: stat.sid };
}

/**
 * Why the approver may not answer for these requesting processes, or null. Refused: sharing a
 * session with any of them (a program approving from its own session), or having one of them
 * among its ancestors (a program that started the approver, e.g. through script(1), which gives
 * it a terminal and a new session).
 */
export function approverConflict(approverPid: number, requesters: ProcessFacts[], proc: ProcReader): string | null {
  const own = proc.stat(approverPid);
  if (!own) return "the approving process cannot be identified";
  const same = (p: ProcessFacts, startTime: number) => p.startTime === null || p.startTime === startTime;
  for (const r of requesters) {
    const now = proc.stat(r.pid);
    const sids = [r.sid, now && same(r, now.startTime) ? now.sid : null];
    if (sids.includes(own.sid)) {
      return `credagent approve runs in the same session (sid ${own.sid}) as the request's pid ${r.pid}: a program may not approve its own request. Approve from a shell in another terminal window, or in the desktop prompt`;
    }
  }
  let pid = own.ppid;
  for (let depth = 0; pid > 1 && depth < MAX_ANCESTORS; depth++) {
    const stat = proc.stat(pid);
    if (!stat) break;
    const hit = requesters.find((r) => r.pid === pid && same(r, stat.startTime));
    if (hit) {
      return `credagent approve (pid ${approverPid}) was started by ${hit.exe ?? "a process"} (pid ${hit.pid}), which made the request: a program may not approve its own request. Approve from a shell of your own in another terminal window`;
    }
    pid = stat.ppid;
  }
  return null;
}
