import { ptr, toArrayBuffer } from "bun:ffi";
import { darwinLibc, glibcMalloc, libc, linuxLibc } from "../native/libc.ts";
import { MALLOC_TUNABLE, tcacheOff } from "./malloc-tunables.ts";

// What ssh-agent does in platform_disable_tracing(), for the same reason: the agent holds every
// secret of its user, and any process of that user may otherwise read its memory through
// /proc/PID/mem, ptrace (gdb -p) or a core dump.

const PR_SET_DUMPABLE = 4;
const M_PERTURB = -6;
/** Any byte but 0; glibc fills freed chunks with it (and new ones with its complement). */
const PERTURB_BYTE = 0x5a;
const PT_DENY_ATTACH = 31;
const RLIMIT_CORE = 4;
const RLIMIT_NOFILE: Partial<Record<NodeJS.Platform, number>> = { linux: 7, darwin: 8, freebsd: 8 };

export interface TracingStatus {
  /** Memory and environment closed to other processes of the same user (non-dumpable / PT_DENY_ATTACH). */
  traceable: boolean;
  /** The hard core-size limit is 0: a crash writes no core, and nothing unprivileged can raise it. */
  coreDumps: boolean;
  /** What could not be done, for the log. */
  problems: string[];
}

/**
 * Linux: prctl(PR_SET_DUMPABLE, 0) makes /proc/PID/{mem,environ,maps} root's and refuses ptrace
 * from the same user; macOS: ptrace(PT_DENY_ATTACH). Both: a hard RLIMIT_CORE of 0. Windows has
 * neither; a process there is open to its user's other processes (the README says so).
 */
export function disableTracing(): TracingStatus {
  const problems: string[] = [];
  let traceable = true;
  let coreDumps = true;
  if (process.platform === "win32")
    return { traceable, coreDumps, problems: ["process memory cannot be closed to the same user on Windows"] };
  try {
    if (setLimit(RLIMIT_CORE, 0n, 0n)) coreDumps = false;
    else problems.push("setrlimit(RLIMIT_CORE, 0) failed");
  } catch (err) {
    problems.push(`setrlimit: ${(err as Error).message}`);
  }
  try {
    if (process.platform === "linux") {
      if (linuxLibc().prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) === 0) traceable = false;
      else problems.push("prctl(PR_SET_DUMPABLE, 0) failed");
    } else if (process.platform === "darwin") {
      if (darwinLibc().ptrace(PT_DENY_ATTACH, 0, null, 0) === 0) traceable = false;
      else problems.push("ptrace(PT_DENY_ATTACH) failed");
    } else {
      problems.push(`no way to refuse tracing is known on ${process.platform}`);
    }
  } catch (err) {
    problems.push((err as Error).message);
  }
  return { traceable, coreDumps, problems };
}

/**
 * glibc's M_PERTURB: every chunk freed through glibc's malloc is overwritten. The native parts
 * (the keyring addon, libdbus) allocate there, and their copies of a secret (a D-Bus message, a
 * Rust Vec) are freed without being zeroed. Bun's own heaps are not glibc's: see the README on lock.
 * Except in glibc's per-thread cache (tcache), which takes small chunks (up to 1 KiB: a cached
 * token's record, a D-Bus reply) before M_PERTURB is applied: whole token records were found there
 * after a lock (issue 21, item 7). The cache can only be turned off when the process starts
 * (GLIBC_TUNABLES, read by the dynamic loader), so whoever starts the agent sets it
 * (withAgentMallocTunables: `credagent start`, the systemd unit). Returns what is not done, for
 * the log; null when all is, or where there is no glibc.
 */
export function overwriteFreedNativeMemory(env: Record<string, string | undefined> = process.env): string | null {
  if (process.platform !== "linux") return null;
  try {
    if (glibcMalloc().mallopt(M_PERTURB, PERTURB_BYTE) !== 1) return "mallopt(M_PERTURB) failed";
  } catch {
    return null;
  }
  if (!tcacheOff(env.GLIBC_TUNABLES))
    return `small chunks glibc frees are kept in its thread cache without being overwritten: start the agent with GLIBC_TUNABLES=${MALLOC_TUNABLE} ('credagent start' and the systemd unit do)`;
  return null;
}

/**
 * Overwrites the value of an environment variable where the kernel put it (the block that
 * /proc/PID/environ shows), then removes the variable. Deleting it from process.env alone leaves
 * that block as it was. Returns the value, read first.
 */
export function takeEnvironmentValue(name: string): string | undefined {
  const value = process.env[name];
  if (value === undefined) return undefined;
  if (process.platform === "linux" || process.platform === "darwin") {
    try {
      const at = libc().getenv(Buffer.from(`${name}\0`));
      const length = Buffer.byteLength(value);
      if (at) new Uint8Array(toArrayBuffer(at, 0, length)).fill(0x20);
    } catch {
      // Best effort: non-dumpable already keeps other processes of the user out of the block.
    }
  }
  delete process.env[name];
  return value;
}

/**
 * Raises the soft descriptor limit to the hard one (as systemd advises daemons to) and returns the
 * soft limit now in force, or null where it cannot be read (Windows).
 */
export function raiseOpenFileLimit(): number | null {
  const resource = RLIMIT_NOFILE[process.platform];
  if (resource === undefined) return null;
  try {
    const current = getLimit(resource);
    if (!current) return null;
    // RLIM_INFINITY (all ones) is not a real descriptor count; macOS also caps at OPEN_MAX.
    const hard = current.hard > 1_048_576n ? 1_048_576n : current.hard;
    if (hard > current.soft && setLimit(resource, hard, current.hard)) return Number(hard);
    return Number(current.soft);
  } catch {
    return null;
  }
}

function getLimit(resource: number): { soft: bigint; hard: bigint } | null {
  const limit = new BigUint64Array(2);
  if (libc().getrlimit(resource, ptr(limit)) !== 0) return null;
  return { soft: limit[0]!, hard: limit[1]! };
}

function setLimit(resource: number, soft: bigint, hard: bigint): boolean {
  const limit = new BigUint64Array([soft, hard]);
  return libc().setrlimit(resource, ptr(limit)) === 0;
}
