import { createReadStream, readFileSync, readlinkSync, statSync } from "node:fs";
import { darwinExecutable, darwinStartTime } from "./darwin.ts";

// What the kernel says about a peer process, on Linux from /proc. Read once per connection: only
// what a decision uses. The command line is deliberately not read: nothing decides on it, and
// other programs' argv may hold their secrets. The executable's hash only when a rule asks for
// it, cached by file identity.

export interface ProcessInfo {
  pid: number;
  /** The executable as /proc/PID/exe names it, " (deleted)" removed; null when unreadable. */
  exe: string | null;
  /** When the process started (clock ticks since boot on Linux): with the pid, what identifies it. */
  startTime: number | null;
}

export function readProcessInfo(pid: number): ProcessInfo {
  if (process.platform === "darwin") return { pid, exe: darwinExecutable(pid), startTime: darwinStartTime(pid) };
  return { pid, exe: exeOf(pid), startTime: startTimeOf(pid) };
}

function exeOf(pid: number): string | null {
  try {
    return readlinkSync(`/proc/${pid}/exe`).replace(/ \(deleted\)$/, "");
  } catch {
    return null;
  }
}

/** Fields of /proc/PID/stat after "(comm)", which may itself hold spaces and parentheses. */
function statFields(pid: number): string[] | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  } catch {
    return null;
  }
}

export function startTimeOf(pid: number): number | null {
  if (process.platform === "darwin") return darwinStartTime(pid);
  // starttime is field 22 of stat; after "(comm)" it is the 20th (0-based 19).
  const value = statFields(pid)?.[19];
  return value === undefined ? null : Number(value);
}

/** What /proc/PID/stat says about a process's place in the process tree. */
export interface ProcessStat {
  ppid: number;
  /** Session id (field 6): setsid(2) starts a new one; a terminal's shell leads one. */
  sid: number;
  /** The controlling terminal's device number, 0 for none. */
  tty: number;
  startTime: number;
}

/** Reads what attribution and approval checks need about a process; injected so they are unit-testable. */
export interface ProcReader {
  stat(pid: number): ProcessStat | null;
  exe(pid: number): string | null;
  /** The running executable's file identity ("dev:ino"), not its name: a copy or a rename does not fool it. */
  exeFile(pid: number): string | null;
  /** The effective uid. */
  uid(pid: number): number | null;
}

export function procStat(pid: number): ProcessStat | null {
  // After "(comm)": state ppid pgrp session tty_nr ... starttime (fields 3, 4, 5, 6, 7, 22).
  const f = statFields(pid);
  if (!f || f.length < 20) return null;
  const [ppid, sid, tty, startTime] = [f[1], f[3], f[4], f[19]].map(Number) as [number, number, number, number];
  return [ppid, sid, tty, startTime].every(Number.isFinite) ? { ppid, sid, tty, startTime } : null;
}

function exeFileOf(path: string | null): string | null {
  if (path === null) return null;
  try {
    const st = statSync(path);
    return `${st.dev}:${st.ino}`;
  } catch {
    return null;
  }
}

function uidOf(pid: number): number | null {
  try {
    const line = /^Uid:\s+\d+\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return line ? Number(line[1]) : null;
  } catch {
    return null;
  }
}

/**
 * The kernel's view on Linux. Elsewhere the parent and session are not read (macOS has no /proc):
 * what needs them fails closed.
 */
export const systemProcReader: ProcReader =
  process.platform === "linux"
    ? { stat: procStat, exe: exeOf, exeFile: (pid) => exeFileOf(`/proc/${pid}/exe`), uid: uidOf }
    : {
        stat: () => null,
        exe: (pid) => (process.platform === "darwin" ? darwinExecutable(pid) : null),
        exeFile: (pid) => (process.platform === "darwin" ? exeFileOf(darwinExecutable(pid)) : null),
        uid: () => null,
      };

/** The running agent's own executable: file identity and path (what a peer running it shows). */
export function ownExecutable(): { file: string | null; path: string | null } {
  const path = process.platform === "linux" ? exeOf(process.pid) : process.execPath;
  return { file: exeFileOf(process.platform === "linux" ? "/proc/self/exe" : process.execPath), path };
}

/** The controlling terminal's device number, 0 for none (a daemon, a background service). */
export function controllingTerminal(pid: number): number | null {
  const value = statFields(pid)?.[4];
  return value === undefined ? null : Number(value);
}

/**
 * The device name of a controlling terminal from its number in /proc/PID/stat (tty_nr: major in
 * bits 8-19, minor in bits 0-7 and 20-31): /dev/pts/N for pseudo-terminals (majors 136-143), the
 * virtual consoles and serial lines by name, else the numbers.
 */
export function terminalName(ttyNr: number): string {
  const major = (ttyNr >> 8) & 0xfff;
  const minor = (ttyNr & 0xff) | ((ttyNr >>> 20) << 8);
  if (major >= 136 && major <= 143) return `/dev/pts/${(major - 136) * 256 + minor}`;
  if (major === 4 && minor < 64) return `/dev/tty${minor}`;
  if (major === 4) return `/dev/ttyS${minor - 64}`;
  return `terminal ${major}:${minor}`;
}

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
  const state = statFields(pid)?.[0];
  return state === undefined || state === "Z";
}

/** The process at pid is still the one we identified (pid reuse would change its start time). */
export function sameProcess(
  info: Pick<ProcessInfo, "pid" | "startTime">,
  currentStartTime: (pid: number) => number | null = startTimeOf,
): boolean {
  return info.startTime !== null && currentStartTime(info.pid) === info.startTime;
}

// By file identity, holding the pending hash too: fifty connections from one new program hash
// its executable once, not fifty times.
const hashCache = new Map<string, Promise<string | null>>();

/**
 * SHA-256 of the process's executable, read through /proc/PID/exe: the file the process runs,
 * even if the path was since replaced on disk.
 */
export function executableSha256(pid: number): Promise<string | null> {
  // macOS has no /proc: hash the path proc_pidpath names (a replaced file would show as changed).
  const path = process.platform === "darwin" ? darwinExecutable(pid) : `/proc/${pid}/exe`;
  if (path === null) return Promise.resolve(null);
  let key: string;
  try {
    const st = statSync(path);
    key = `${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}`;
  } catch {
    return Promise.resolve(null);
  }
  let pending = hashCache.get(key);
  if (!pending) {
    if (hashCache.size > 256) hashCache.clear();
    pending = hashFile(path);
    hashCache.set(key, pending);
    pending.then((digest) => {
      if (digest === null) hashCache.delete(key);
    });
  }
  return pending;
}

async function hashFile(path: string): Promise<string | null> {
  const hash = new Bun.CryptoHasher("sha256");
  try {
    for await (const chunk of createReadStream(path)) hash.update(chunk as Uint8Array);
  } catch {
    return null;
  }
  return hash.digest("hex");
}
