// Idle footprint: VmRSS of an idle agent with 0, 10 and 1,000 command credentials (none fetched),
// beside Bun's floor, a compiled idle program built with the flags of scripts/build.sh, and the
// same two built with `--compile-exec-argv=--smol` (the only way to give a compiled binary Bun's
// smaller heap: `credagent start` strips BUN_OPTIONS from the agent's environment, src/client/self.ts).
//
//   bun bench/footprint.ts [BEFORE_BINARY]   prints the section of BENCHMARKS.md (bench/run.ts
//                                            includes it); BEFORE_BINARY: an older build to compare
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, totalmem } from "node:os";
import { join, resolve } from "node:path";

const ROOT = resolve(import.meta.dir, "..");
const BIN = join(ROOT, "build/credagent");
const BUN = join(ROOT, "node_modules/.bin/bun");
const COUNTS = [0, 10, 1000];
const RUNS = 3;
const SETTLE_MS = 1000;
const BUILD_FLAGS = [
  "--compile",
  "--minify",
  "--bytecode",
  "--sourcemap=none",
  "--no-compile-autoload-dotenv",
  "--no-compile-autoload-bunfig",
];

interface Rss {
  total: number;
  anon: number;
}

/** VmRSS and its anonymous part (RssAnon; the rest is pages of the executable and its libraries), MiB. */
function rss(pid: number): Rss {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)![1]);
  return { total: kb("VmRSS") / 1024, anon: kb("RssAnon") / 1024 };
}

/** The sample of median total RSS. */
function median(xs: Rss[]): Rss {
  const s = [...xs].sort((a, b) => a.total - b.total);
  return s[Math.floor(s.length / 2)]!;
}

function show(r: Rss): string {
  return `${r.total.toFixed(1)} MiB (${r.anon.toFixed(1)} anon)`;
}

function build(entry: string, out: string, extra: string[] = []): void {
  const version = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")).version;
  const r = Bun.spawnSync([BUN, "build", entry, ...BUILD_FLAGS, "--define", `CREDAGENT_VERSION="${version}"`, ...extra, "--outfile", out], {
    cwd: ROOT,
    stdout: "pipe",
    stderr: "pipe",
  });
  if (r.exitCode !== 0) throw new Error(`build of ${entry} failed: ${r.stderr.toString()}`);
}

async function idleProgramRss(bin: string): Promise<Rss> {
  const samples: Rss[] = [];
  for (let i = 0; i < RUNS; i++) {
    const p = Bun.spawn([bin], { stdout: "ignore", stderr: "ignore" });
    try {
      await Bun.sleep(SETTLE_MS);
      samples.push(rss(p.pid));
    } finally {
      p.kill();
      await p.exited;
    }
  }
  return median(samples);
}

async function agentRss(bin: string, credentials: number): Promise<Rss> {
  const root = mkdtempSync("/tmp/ca-footprint-");
  try {
    const run = join(root, "run");
    mkdirSync(run, { mode: 0o700 });
    mkdirSync(join(root, "config/credagent"), { recursive: true });
    let toml = "";
    for (let i = 0; i < credentials; i++) toml += `[credentials.c${i}]\nsource = "command"\ncommand = ["/bin/echo", "t"]\n\n`;
    writeFileSync(join(root, "config/credagent/config.toml"), toml);
    const env = {
      PATH: process.env.PATH ?? "/usr/bin:/bin",
      HOME: root,
      XDG_RUNTIME_DIR: run,
      XDG_CONFIG_HOME: join(root, "config"),
      XDG_STATE_HOME: join(root, "state"),
    };
    const samples: Rss[] = [];
    for (let i = 0; i < RUNS; i++) {
      const r = Bun.spawnSync([bin, "start", "-s"], { env, stdout: "pipe", stderr: "pipe" });
      if (r.exitCode !== 0) throw new Error(`${bin} start failed: ${r.stderr.toString()}`);
      const pid = Number(/CRED_AGENT_PID=(\d+)/.exec(r.stdout.toString())![1]);
      try {
        await Bun.sleep(SETTLE_MS);
        samples.push(rss(pid));
      } finally {
        Bun.spawnSync([bin, "stop"], { env: { ...env, CRED_SOCK: join(run, "cred.sock") } });
        try {
          process.kill(pid, "SIGKILL");
        } catch {
          // already gone: stop did its job
        }
      }
    }
    return median(samples);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

export const FOOTPRINT_DOC = `## Idle footprint

VmRSS (from \`/proc/PID/status\`, with its anonymous part, RssAnon) of an agent started with
\`credagent start\` and left idle for ${SETTLE_MS / 1000} s, with 0, 10 and 1,000 \`command\` credentials
configured (none fetched yet), median of ${RUNS} starts (\`bun bench/footprint.ts\`). The floor is a
compiled idle Bun program (\`setInterval(() => {}, 1000)\`) built with the flags of
\`scripts/build.sh\`. \`--smol\` rows: the same builds with \`--compile-exec-argv=--smol\`, the only
way to give the compiled agent Bun's smaller heap: \`credagent start\` strips \`BUN_OPTIONS\` from the
agent's environment (\`src/client/self.ts\`), and a compiled binary hands \`--smol\` on its command
line to the program as an argument.

What the figures say:
- Most of the RSS of a freshly started agent is file-backed: pages of the 116 MB executable (the
  bundle's bytecode lives in it), the keyring addon and the C library, touched by starting. About
  0.3 s after its start the agent drops those of read-only, unwritten file mappings from its page
  tables (\`src/platform/startup-pages.ts\`, \`madvise(MADV_DONTNEED)\`): they stay in the page cache
  and come back as minor faults when used. That took the idle agent from 38-43 MiB (2026-11-25,
  before) to the 23 MiB above; an agent that serves soon touches some of them again.
- The anonymous part, the agent's own heap (JavaScriptCore's heap of the agent's code and data, and
  mimalloc's), is the figure in brackets. It is what the agent costs that no other process shares; a
  full collection after start (\`Bun.gc\`) barely moves it. On 2026-12-07 it went from 7.8 to 6.6 MB
  with one command credential (interleaved runs, RssAnon) by never creating
  \`process.stdout\`/\`process.stderr\` (they load the runtime's stream modules). \`Bun.shrink()\`
  after that collection took 0.6 MB more, and was taken out again: with it the memory test found a
  token left in the agent's heap after a lock (2 of 8 runs). What is left is the code and data of
  the modules the agent runs with, against a goal of 2x the floor's.
- The agent loads at start only the code its config uses (the database proxy with [databases], the
  SDK endpoints with [endpoints], the OAuth code at an oauth2 credential's first fetch): importing
  the agent went from 1,976 to 1,672 page faults and the anonymous part of an idle agent with one
  command credential from 8.6 to 7.8 MiB (interleaved runs, 2026-12-06). Earlier attempts with one
  bundle measured no change: with \`--bytecode\` every module's code is in the executable either way;
  the split build (\`--splitting\`) is what lets a chunk stay unread.
- \`--smol\` moves an idle agent's anonymous memory by less than 1 MiB; not worth a slower agent
  under load, so \`scripts/build.sh\` does not set it. Its row is a build this script makes of
  src/main.ts alone, not \`scripts/build.sh\`'s split build. It used to keep its start-up pages
  resident (39 MiB): built just before it ran, its executable's pages were still dirty in the page
  cache, which the release took for pages of the agent's own; it now tells them apart (an agent
  started right after an install had the same 30 MB).`;

export async function footprintBench(before?: string): Promise<string> {
  const dir = mkdtempSync("/tmp/ca-footprint-build-");
  try {
    const idle = join(dir, "idle.ts");
    writeFileSync(idle, "setInterval(() => {}, 1000);\n");
    build(idle, join(dir, "idle"));
    build(idle, join(dir, "idle-smol"), ["--compile-exec-argv=--smol"]);
    build(join(ROOT, "src/main.ts"), join(dir, "credagent-smol"), ["--compile-exec-argv=--smol"]);
    const agents: Array<[string, string]> = [];
    if (before) agents.push(["agent, before (" + before.split("/").pop() + ")", before]);
    agents.push(["agent", BIN], ["agent, `--smol` build", join(dir, "credagent-smol")]);
    const rows: string[] = [];
    for (const [what, bin] of agents) {
      const figures: string[] = [];
      for (const n of COUNTS) figures.push(show(await agentRss(bin, n)));
      rows.push(`| ${what} | ${figures.join(" | ")} |`);
    }
    rows.push(`| compiled idle Bun program (floor) | ${show(await idleProgramRss(join(dir, "idle")))} | | |`);
    rows.push(`| compiled idle Bun program, \`--smol\` | ${show(await idleProgramRss(join(dir, "idle-smol")))} | | |`);
    const machine = `${cpus().length} x ${cpus()[0]?.model.trim() ?? "cpu"}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, ${process.platform}/${process.arch}, Bun ${Bun.version}`;
    const table = ["| program | 0 credentials | 10 | 1,000 |", "| --- | --- | --- | --- |", ...rows].join("\n");
    return `${table}\n\nMachine: ${machine}. Date: ${new Date().toISOString().slice(0, 10)}.`;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.main) {
  console.log(`${FOOTPRINT_DOC}\n\n${await footprintBench(process.argv[2])}`);
}
