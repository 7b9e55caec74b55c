// A legitimate `credagent get` while one local process attacks the agent's connections, beside
// the same `get` on an idle agent. Each attack runs from its own process (test/support/
// conn-attacker.ts, reopening every connection the agent closes 20 ms later) against an agent
// with its default deadlines and limits, for the whole of the gets.
//
//   bun bench/attacks.ts [RUNS] [BINARY] [--floods]   prints the section of BENCHMARKS.md (bench/run.ts
//                                          includes it); BINARY: another build, e.g. an older one;
//                                          --floods: the issue 21 floods (many processes) instead
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { startAttack, type AttackMode } from "../test/support/attack.ts";

const ROOT = resolve(import.meta.dir, "..");
const BIN = (import.meta.main && process.argv[3] && !process.argv[3].startsWith("--") && process.argv[3]) || join(ROOT, "build/credagent");

interface Scenario {
  what: string;
  attack?: { mode: AttackMode; count: number };
  /** Several attacker processes at once, each with its own connections (issue 21, item 3). */
  attackers?: { processes: number; mode: AttackMode; count: number; path?: string; pauseMs?: number };
  /** One process holding connections its short-lived children opened (test/support/fd-holder.py). */
  holder?: { total: number; perChild: number };
  /** Runs the agent under this (prlimit). */
  prefix?: string[];
}

const FD_HOLDER = join(ROOT, "test/support/fd-holder.py");

/** The floods of issue 21 (item 3) that filled every slot when the share was per pid. */
const FLOODS: Scenario[] = [
  { what: "idle agent (reference)" },
  {
    what: "9 processes x 128 connections: headers with `Content-Length: 100`, no body",
    attackers: { processes: 9, mode: "body", count: 128 },
  },
  {
    what: "one process holding 1,100 such connections, opened by its 55 short-lived children",
    holder: { total: 1100, perChild: 20 },
  },
  {
    what: "9 processes x 128 connections each asking for a `confirm = true` credential and holding on",
    attackers: { processes: 9, mode: "flood", count: 128, path: "/v1/credentials/asked", pauseMs: 30_000 },
  },
];

export const FLOODS_DOC = `### Legit \`get\` under each flood

The floods that filled every connection slot while the share was counted per connecting pid
(issue 21, item 3): 9 processes of 128 connections, one process holding the connections its
short-lived children opened, and 9 x 128 connections waiting on a \`confirm\` prompt. Each
attacker holds its connections busy (a request whose body never comes, or one waiting on the
prompt) and reopens what the agent closes a second later. At the cap the agent now closes the
oldest connection of the largest holder (by process; the connections of ended processes are one
holder), and at most 32 requests wait on one prompt (the rest are answered 429 at once). Measured
as above (a whole \`credagent get db\` process, one after another), beside the idle agent of the
same run; \`test/e2e/fair-slots.test.ts\` checks the same floods (median at most 1 s, no failure,
and \`status\`, \`approve\`, \`lock\`, \`unlock\` answering).

The same script against the build before (98f0afb, 10 runs each): every \`get\` failed under each of
the three floods ("all 1024 of the agent's connections are busy").`;

const SCENARIOS: Scenario[] = [
  { what: "idle agent (reference)" },
  { what: "1,024 connections: headers with `Content-Length: 100`, no body", attack: { mode: "body", count: 1024 } },
  { what: "1,000 idle connections (connect, send nothing)", attack: { mode: "idle", count: 1000 } },
  { what: "1,024 header slowloris connections (a byte every 1.5 s)", attack: { mode: "slowloris", count: 1024 } },
  { what: "2,000 concurrent connections asking as fast as answered", attack: { mode: "flood", count: 2000 } },
  { what: "descriptor limit 128 (`prlimit --nofile=128:128`), idle agent (reference)", prefix: ["prlimit", "--nofile=128:128"] },
  { what: "descriptor limit 128, 300 idle connections", attack: { mode: "idle", count: 300 }, prefix: ["prlimit", "--nofile=128:128"] },
];

export const ATTACKS_DOC = `## Under connection attacks

A legitimate \`credagent get db\` (the whole CLI process, run one after another; wall time from
\`Bun.spawnSync\` to exit) while one local process attacks the agent's connections, beside the same
\`get\` on an idle agent in the same run. Each attacker is a separate process
(\`test/support/conn-attacker.ts\`) that reopens every connection the agent closes 20 ms later, so
the pressure lasts through all the runs; the agent runs with its default deadlines (10 s for
headers and for a body, 60 s idle) and limits (1,024 connections, 128 a process; 64 and 8 under a
descriptor limit of 128). The attacker, the agent and the CLI share the machine's 2 cores. The
idle reference is slower than hyperfine's \`get\` in the table above because it is timed from
\`Bun.spawnSync\` in the benchmark process, not by hyperfine: compare the rows of this table with
each other; the figures under attack measure mostly CPU contention and vary from run to run.
Same run and machine as the table above.

The same script against the build before the fix (commit 67cf2fa, 5 runs each): every \`get\`
failed (connection reset) under the body, slowloris and 2,000-connection attacks; under the
descriptor limit of 128 every \`get\` hung until its 60 s timeout; 1,000 idle connections stayed
just under that build's 1,024 cap and did no harm.`;

export async function attackBench(runs: number): Promise<string[][]> {
  const rows: string[][] = [];
  for (const scenario of SCENARIOS) {
    const times = await measure(scenario, runs);
    const row = [scenario.what, `${ms(percentile(times, 0.5))}`, `${ms(percentile(times, 0.99))}`, `${times.failures} of ${runs}`];
    rows.push(row);
    console.error(row.join(" | "));
  }
  return rows;
}

export async function floodBench(runs: number): Promise<string[][]> {
  const rows: string[][] = [];
  for (const scenario of FLOODS) {
    const times = await measure(scenario, runs);
    const row = [scenario.what, `${ms(percentile(times, 0.5))}`, `${ms(Math.max(...times))}`, `${times.failures} of ${runs}`];
    rows.push(row);
    console.error(row.join(" | "));
  }
  return rows;
}

export function floodTable(rows: string[][]): string {
  return ["| during | `get` p50 | `get` max | failed |", "| --- | --- | --- | --- |", ...rows.map((r) => `| ${r.join(" | ")} |`)].join(
    "\n",
  );
}

export function attackTable(rows: string[][]): string {
  return ["| during | `get` median | `get` p99 | failed |", "| --- | --- | --- | --- |", ...rows.map((r) => `| ${r.join(" | ")} |`)].join(
    "\n",
  );
}

async function measure(scenario: Scenario, runs: number): Promise<number[] & { failures: number }> {
  const root = mkdtempSync("/tmp/ca-bench-attack-");
  mkdirSync(join(root, "run"), { mode: 0o700 });
  mkdirSync(join(root, "config/credagent"), { recursive: true });
  const script = join(root, "token.sh");
  writeFileSync(script, `#!/bin/sh\necho '{"access_token":"${"t".repeat(40)}","expires_in":3600}'\n`, { mode: 0o755 });
  writeFileSync(
    join(root, "config/credagent/config.toml"),
    `[credentials.db]\nsource = "command"\ncommand = ["${script}"]\n\n[credentials.asked]\nsource = "command"\ncommand = ["${script}"]\nconfirm = true\n`,
  );
  const socket = join(root, "run/cred.sock");
  const env = {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    HOME: root,
    XDG_RUNTIME_DIR: join(root, "run"),
    XDG_CONFIG_HOME: join(root, "config"),
    XDG_STATE_HOME: join(root, "state"),
  };
  const agent = Bun.spawn([...(scenario.prefix ?? []), BIN, "agent", "-a", socket], { env, stdio: ["ignore", "ignore", "ignore"] });
  const attacks: Array<{ stop(): Promise<void> }> = [];
  try {
    await waitForAgent(socket);
    if (get(env).code !== 0) throw new Error("the agent does not serve db");
    if (scenario.attack) attacks.push(await startAttack(socket, scenario.attack.mode, scenario.attack.count, { reopenMs: 20 }));
    const many = scenario.attackers;
    for (let i = 0; many && i < many.processes; i++) {
      attacks.push(await startAttack(socket, many.mode, many.count, { reopenMs: 1_000, path: many.path, pauseMs: many.pauseMs }));
    }
    if (scenario.holder) attacks.push(await startHolder(socket, scenario.holder.total, scenario.holder.perChild, 1_000));
    const times = Object.assign([] as number[], { failures: 0 });
    for (let i = 0; i < runs; i++) {
      const r = get(env);
      times.push(r.ms);
      if (r.code !== 0) times.failures += 1;
    }
    return times;
  } finally {
    await Promise.all(attacks.map((a) => a.stop()));
    agent.kill("SIGKILL");
    await agent.exited;
    rmSync(root, { recursive: true, force: true });
  }
}

/** test/support/fd-holder.py, once it holds its connections; stopped by closing its stdin. */
async function startHolder(socket: string, total: number, perChild: number, reopenMs: number): Promise<{ stop(): Promise<void> }> {
  const proc = Bun.spawn(["python3", FD_HOLDER, socket, String(total), String(perChild), String(reopenMs)], {
    stdin: "pipe",
    stdout: "pipe",
    stderr: "inherit",
  });
  const stop = async () => {
    proc.stdin.end();
    if (!(await Promise.race([proc.exited.then(() => true), Bun.sleep(3_000).then(() => false)]))) proc.kill("SIGKILL");
    await proc.exited;
  };
  const first = await proc.stdout.getReader().read();
  if (first.done) {
    await stop();
    throw new Error("the connection holder did not start");
  }
  return { stop };
}

function get(env: Record<string, string>): { code: number; ms: number } {
  const t0 = performance.now();
  const r = Bun.spawnSync([BIN, "get", "db"], { env, stdout: "ignore", stderr: "pipe", timeout: 60_000 });
  const ms = performance.now() - t0;
  if (r.exitCode !== 0)
    console.error(`  get failed (${r.exitCode ?? r.signalCode}) after ${ms.toFixed(0)} ms: ${r.stderr.toString().trim()}`);
  return { code: r.exitCode ?? -1, ms };
}

async function waitForAgent(socket: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    const ok = await fetch("http://localhost/v1/health", { unix: socket }).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return;
    await Bun.sleep(20);
  }
  throw new Error(`no agent answered at ${socket}`);
}

/** Nearest-rank percentile. */
function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(0, Math.ceil(p * sorted.length) - 1)]!;
}

function ms(x: number): string {
  return x >= 1000 ? `${(x / 1000).toFixed(2)} s` : `${x.toFixed(1)} ms`;
}

if (import.meta.main) {
  const runs = Number(process.argv[2] ?? 100);
  if (process.argv.includes("--floods")) {
    console.log(`${FLOODS_DOC}\n\n${floodTable(await floodBench(runs))}\n\n${runs} runs each.`);
  } else {
    const rows = await attackBench(runs);
    console.log(`${ATTACKS_DOC}\n\n${attackTable(rows)}\n\n${runs} runs each.`);
  }
}
