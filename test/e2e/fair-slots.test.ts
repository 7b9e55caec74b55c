import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { resolve } from "node:path";
import { startAttack, type Attack } from "../support/attack.ts";
import { countingSource, Sandbox } from "./harness.ts";

// Slot exhaustion by many processes (issue 21, item 3). The agent holds at most 1,024 client
// connections; a share per connecting pid let 9 processes x 128 connections, or one process
// holding the connections its 54 short-lived children opened, or 9 x 128 connections waiting on
// `confirm` prompts, fill them all: legitimate gets failed 98-99.7% of the time, and `credagent
// approve` could not connect. Under each flood, from other processes, the real CLI's `get` must
// keep working with a median of at most 1 s and no failure, and `status`, `approve`, `lock` and
// `unlock` must answer.

const FD_HOLDER = resolve(import.meta.dir, "../support/fd-holder.py");
const GETS = 9;
/** Attackers reopen a connection the agent closed this long after. */
const REOPEN_MS = 1_000;
const LOCK = "fair-slots-lock-passphrase";

let box: Sandbox;
beforeAll(async () => {
  box = new Sandbox();
  const db = countingSource(box, "db", 3600);
  const asked = countingSource(box, "asked", 3600);
  box.writeConfig(
    `[agent]\nconfirm_timeout = "60s"\n\n[credentials.db]\nsource = "command"\ncommand = ["${db.script}"]\n\n` +
      `[credentials.asked]\nsource = "command"\ncommand = ["${asked.script}"]\nconfirm = true\n`,
  );
  box.env.CRED_SOCK = box.socket;
  await box.start();
  expect((await box.run(["get", "db"])).code).toBe(0);
});
afterAll(() => box.cleanup());

/** The owner under a flood: gets (all succeed, median at most 1 s), then status, approve, lock and unlock. */
async function ownerGetsThrough(flood: string): Promise<void> {
  const times: number[] = [];
  for (let i = 0; i < GETS; i++) {
    const t0 = performance.now();
    const r = await box.run(["get", "db"], { timeoutMs: 30_000 });
    times.push(performance.now() - t0);
    expect({ flood, code: r.code, stderr: r.stderr }).toEqual({ flood, code: 0, stderr: "" });
  }
  times.sort((a, b) => a - b);
  const median = times[Math.floor(GETS / 2)]!;
  console.log(`  ${flood}: credagent get ${times.map((t) => Math.round(t)).join(", ")} ms (median ${Math.round(median)})`);
  expect(median).toBeLessThanOrEqual(1_000);
  for (const args of [["status"], ["approve"]]) {
    const r = await box.run(args, { timeoutMs: 30_000 });
    expect({ flood, args, code: r.code, stderr: r.stderr }).toEqual({ flood, args, code: 0, stderr: "" });
  }
  expect((await box.run(["lock", "--stdin"], { input: `${LOCK}\n`, timeoutMs: 30_000 })).code).toBe(0);
  expect((await box.run(["unlock", "--stdin"], { input: `${LOCK}\n`, timeoutMs: 30_000 })).code).toBe(0);
}

/**
 * 9 attacker processes of 128 connections each, holding them: every connection the agent closes
 * is reopened a second later (or sooner: the storm test).
 */
async function nineTimes128(options: Parameters<typeof startAttack>[3], mode: "body" | "flood"): Promise<Attack[]> {
  const attacks: Attack[] = [];
  try {
    for (let i = 0; i < 9; i++) attacks.push(await startAttack(box.socket, mode, 128, { reopenMs: REOPEN_MS, ...options }));
  } catch (err) {
    await Promise.all(attacks.map((a) => a.stop()));
    throw err;
  }
  return attacks;
}

async function closedByAgent(attacks: Attack[]): Promise<number> {
  const reports = await Promise.all(attacks.map((a) => a.report()));
  return reports.reduce((sum, r) => sum + r.closed, 0);
}

describe("slots are fair, not per pid", () => {
  test("9 processes x 128 busy connections: the owner's get, status, approve, lock and unlock get through", async () => {
    // Headers with Content-Length: 100 and no body: busy until the body deadline, never idle.
    const attacks = await nineTimes128({}, "body");
    try {
      await ownerGetsThrough("9 x 128 connections waiting to send a body");
      // The cap was reached: the agent closed the largest holders' oldest connections.
      expect(await closedByAgent(attacks)).toBeGreaterThan(0);
    } finally {
      await Promise.all(attacks.map((a) => a.stop()));
    }
  }, 90_000);

  test("9 processes x 128 busy connections reopening each one 20 ms after it is closed (a reconnect storm): the owner gets through", async () => {
    // Before the fair-share refusal, attackers near their share were admitted in place of each
    // other's oldest: closes without end, and a legitimate connection waited seconds in the
    // kernel's accept queue behind the storm. Now an attacker's reconnect at the cap is refused.
    const attacks = await nineTimes128({ reopenMs: 20 }, "body");
    try {
      await ownerGetsThrough("9 x 128 connections, reopened 20 ms after each close");
    } finally {
      await Promise.all(attacks.map((a) => a.stop()));
    }
  }, 90_000);

  test("one process holding 1,100 busy connections its short-lived children opened: the owner gets through", async () => {
    const holder = Bun.spawn(["python3", FD_HOLDER, box.socket, "1100", "20", String(REOPEN_MS)], {
      stdin: "pipe",
      stdout: "pipe",
      stderr: "inherit",
    });
    const reader = holder.stdout.getReader();
    const decoder = new TextDecoder();
    let pending = "";
    const nextLine = async (): Promise<Record<string, number>> => {
      for (;;) {
        const nl = pending.indexOf("\n");
        if (nl >= 0) {
          const line = pending.slice(0, nl);
          pending = pending.slice(nl + 1);
          return JSON.parse(line);
        }
        const { value, done } = await reader.read();
        if (done) throw new Error("the holder exited");
        pending += decoder.decode(value, { stream: true });
      }
    };
    try {
      const started = await nextLine();
      expect(started.children).toBeGreaterThanOrEqual(50);
      await ownerGetsThrough("1,100 connections held by one process, opened by its children");
      holder.stdin.write("report\n");
      holder.stdin.flush();
      const report = await nextLine();
      console.log(`  holder: ${JSON.stringify(report)}`);
      expect(report.closed_by_agent).toBeGreaterThan(0);
    } finally {
      holder.stdin.end();
      const exited = await Promise.race([holder.exited.then(() => true), Bun.sleep(3_000).then(() => false)]);
      if (!exited) holder.kill("SIGKILL");
      await holder.exited;
    }
  }, 90_000);

  test("9 x 128 connections asking for a confirm = true credential: the owner gets through, and approve lists the one prompt", async () => {
    // Each connection asks and holds on (asking again only 30 s after an answer): 32 wait on the
    // prompt, the rest are answered 429 at once instead of holding their slot for the minute.
    const attacks = await nineTimes128({ path: "/v1/credentials/asked", pauseMs: 30_000 }, "flood");
    try {
      await ownerGetsThrough("9 x 128 connections waiting on a confirm prompt");
      const listing = (await box.run(["approve"], { timeoutMs: 30_000 })).stdout;
      expect(listing.split("\n").filter((l) => / asked /.test(l)).length).toBeLessThanOrEqual(1);
      // Beyond what may wait on one prompt, the requests were answered (429) at once.
      const reports = await Promise.all(attacks.map((a) => a.report()));
      expect(reports.reduce((sum, r) => sum + r.responses, 0)).toBeGreaterThan(1_000);
    } finally {
      await Promise.all(attacks.map((a) => a.stop()));
    }
  }, 90_000);
});
