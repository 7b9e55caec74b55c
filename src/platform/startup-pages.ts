import { readFileSync } from "node:fs";
import { linuxLibc } from "../native/libc.ts";
import { capabilities } from "./os.ts";

// Most of an idle agent's resident memory is pages of files it mapped read-only: the runtime's code
// in the 116 MB executable, the keyring addon, the C library. Starting touches far more of them
// than serving does (module loading, the config's parser, the keyring's dlopen, a JIT warming up),
// and the kernel keeps them in the agent's page tables until memory runs short. Once started, the
// agent drops them from its page tables (madvise MADV_DONTNEED): they stay in the page cache,
// shared with every process running the same files, and the pages the agent uses again come back
// on their next touch as minor faults, with no I/O. Only mappings that are private, not writable,
// backed by a file and hold no page of the agent's own (no copy-on-write page, nothing locked) are
// dropped: for those the file is the only content, so nothing is lost.

const MADV_DONTNEED = 4;

export interface Releasable {
  start: bigint;
  length: bigint;
  /** Resident kB before the release. */
  rssKb: number;
}

/** The mappings of a /proc/PID/smaps text that can be dropped without losing a byte. */
export function releasableMappings(smaps: string): Releasable[] {
  const found: Releasable[] = [];
  let current: (Releasable & { ok: boolean; anonKb: number }) | null = null;
  const close = () => {
    if (current?.ok && current.anonKb === 0 && current.rssKb > 0) {
      found.push({ start: current.start, length: current.length, rssKb: current.rssKb });
    }
  };
  for (const line of smaps.split("\n")) {
    const head = /^([0-9a-f]+)-([0-9a-f]+) ([r-][w-][x-][ps]) \S+ \S+ \d+\s*(.*)$/.exec(line);
    if (head) {
      close();
      const [, from, to, perms, path] = head as unknown as [string, string, string, string, string];
      const start = BigInt(`0x${from}`);
      current = {
        start,
        length: BigInt(`0x${to}`) - start,
        rssKb: 0,
        anonKb: 0,
        ok: perms[0] === "r" && perms[1] === "-" && perms[3] === "p" && path.startsWith("/") && !path.endsWith(" (deleted)"),
      };
      continue;
    }
    if (!current) continue;
    // Not Private_Dirty: in a private mapping every page the process wrote is a copy-on-write,
    // anonymous page; a dirty file page there is the page cache's (a file written a moment ago, as
    // by an install or a build, until the kernel writes it back), which the file keeps.
    const field = /^(Rss|Anonymous|Locked):\s+(\d+) kB/.exec(line);
    if (!field) continue;
    const kb = Number(field[2]);
    if (field[1] === "Rss") current.rssKb = kb;
    else if (field[1] === "Anonymous") current.anonKb += kb;
    else if (kb > 0) current.ok = false; // locked
  }
  close();
  return found;
}

/** Drops the agent's start-up pages of read-only file mappings; the kB it dropped, or null where this is not done. */
export function releaseStartupPages(): number | null {
  if (capabilities.os !== "linux") return null;
  const mappings = releasableMappings(readFileSync("/proc/self/smaps", "utf8"));
  const { madvise } = linuxLibc();
  let released = 0;
  for (const m of mappings) if (madvise(m.start, m.length, MADV_DONTNEED) === 0) released += m.rssKb;
  return released;
}
