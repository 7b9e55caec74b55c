import { readdirSync, readFileSync } from "node:fs";

// The suite's own processes, found by what they carry, never by a program's name: two suite runs on
// one machine (two clones, or CI jobs sharing a host) must not kill or wait on each other's.
// A process counts as this run's when its environment or its command line names this run's
// directory, or its command line this clone's build or support scripts. Linux only (/proc).

export interface ProcessFacts {
  pid: number;
  /** The command line, arguments joined by spaces. */
  args: string;
  /** NAME=VALUE entries; null when unreadable (another user's process, or a non-dumpable agent when not root). */
  environ: string[] | null;
}

function readNulList(path: string): string[] | null {
  try {
    return readFileSync(path, "utf8")
      .split("\0")
      .filter((s) => s !== "");
  } catch {
    return null;
  }
}

/** Every live process whose command line can be read (zombies have none and hold nothing). */
export function listProcesses(): ProcessFacts[] {
  const out: ProcessFacts[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    const args = readNulList(`/proc/${name}/cmdline`);
    if (!args || args.length === 0) continue;
    out.push({ pid: Number(name), args: args.join(" "), environ: readNulList(`/proc/${name}/environ`) });
  }
  return out;
}

/** This process and its ancestors: the scanner and whoever ran it are never leftovers. */
function selfAndAncestors(): Set<number> {
  const pids = new Set<number>();
  let pid = process.pid;
  while (pid > 1 && !pids.has(pid)) {
    pids.add(pid);
    try {
      // Field 4 of stat, after the parenthesised name (which may hold spaces).
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      pid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
    } catch {
      break;
    }
  }
  return pids;
}

/** A Linux path as a Windows program under Wine names it (Z: is the root in every prefix). */
export const winePath = (path: string) => `Z:${path.replaceAll("/", "\\")}`;

export interface RunScope {
  /** The run's own directory (test/run.sh's CREDAGENT_TEST_RUN_DIR). */
  runDir?: string;
  /** The clone the run builds and tests. */
  root?: string;
  /** An environment entry (NAME=VALUE, exact) that marks a process as the run's. */
  envEntry?: string;
}

export function belongsToRun(p: ProcessFacts, scope: RunScope): boolean {
  const { runDir, root, envEntry } = scope;
  if (runDir && p.args.includes(`${runDir}/`)) return true;
  if (p.environ) {
    if (envEntry && p.environ.includes(envEntry)) return true;
    // WINEPREFIX, TMPDIR, HOME, XDG_* pointing into the run's directory.
    if (runDir && p.environ.some((e) => e.slice(e.indexOf("=") + 1).startsWith(`${runDir}/`))) return true;
  }
  if (root) {
    // Agents this clone's binary runs on a test socket (a developer's own agent from build/ is not the run's).
    if (p.args.startsWith(`${root}/build/credagent `) && / agent\b/.test(p.args) && p.args.includes("/tmp/ca-")) return true;
    if (p.args.includes(`${root}/test/support/`)) return true;
    // A Windows build of this clone under Wine: its Unix process shows the Windows path.
    if (p.args.startsWith(`${winePath(root)}\\build\\`)) return true;
  }
  return false;
}

/** The processes of this run, the caller and its ancestors left out. */
export function runProcesses(scope: RunScope): ProcessFacts[] {
  const skip = selfAndAncestors();
  return listProcesses().filter((p) => !skip.has(p.pid) && belongsToRun(p, scope));
}

// test/run.sh: `bun test/support/processes.ts RUN_DIR ROOT` prints "PID ARGS" for each leftover.
if (import.meta.main) {
  const [runDir, root] = process.argv.slice(2);
  if (!runDir || !root) {
    console.error("usage: bun test/support/processes.ts RUN_DIR ROOT");
    process.exit(2);
  }
  for (const p of runProcesses({ runDir, root, envEntry: `CREDAGENT_TEST_RUN_DIR=${runDir}` })) console.log(`${p.pid} ${p.args}`);
}
