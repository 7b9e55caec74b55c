import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Sandbox, waitFor } from "./harness.ts";

// Command sources that misbehave: one that ignores SIGTERM and never ends, one that leaves a
// background child holding its stdout. The agent must kill each in its process group and stay
// flat in processes and descriptors over many retries. Linux /proc tells what is left.

const hasProc = existsSync("/proc/self/stat");
const STUBBORN_CREDENTIALS = 10;

/** Processes started by a sandbox script: the shell (its argv names the script) and what it spawned (marked in environ). */
function sourceProcesses(script: string): number[] {
  const mark = `CREDAGENT_E2E_MARK=${script}`;
  const found: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, "utf8");
      const environ = cmdline.includes(script) ? "" : readFileSync(`/proc/${entry}/environ`, "utf8");
      if (cmdline.includes(script) || environ.split("\0").includes(mark)) found.push(Number(entry));
    } catch {
      // gone meanwhile, or not ours to read
    }
  }
  return found;
}

/** Live (non-zombie) children of pid. */
function childrenOf(pid: number): number[] {
  const found: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const [state, ppid] = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (Number(ppid) === pid && state !== "Z") found.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

function fdCount(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

function killAll(pids: number[]): void {
  for (const pid of pids) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
}

describe.skipIf(!hasProc)("command sources are killed with everything they started", () => {
  let box: Sandbox;
  let agent: number;
  const scripts: string[] = [];
  let stubborn: string;
  let background: string;
  let pidFile: string;

  beforeAll(async () => {
    box = new Sandbox();
    pidFile = join(box.root, "stubborn.pids");
    // Ignores SIGTERM (and so do its children, which inherit the ignored disposition), records
    // its pid once it does, and waits forever on a child of its own.
    stubborn = box.script("stubborn.sh", `export CREDAGENT_E2E_MARK="$0"\ntrap '' TERM\necho $$ >> ${pidFile}\nsleep 600 &\nsleep 600`);
    // Prints a valid token and exits at once, leaving a background child on its stdout.
    background = box.script(
      "background.sh",
      `export CREDAGENT_E2E_MARK="$0"\n(sleep 600) &\nprintf '{"access_token":"bg-token","expires_in":3600}'\nexit 0`,
    );
    const plain = box.script("plain.sh", `printf '{"access_token":"plain-token","expires_in":3600}'`);
    const failing = box.script("failing.sh", `echo never-quote-this-stdout\necho "token expired: run 'tool login' first" >&2\nexit 3`);
    scripts.push(stubborn, background, plain, failing);
    // Ten credentials on the same stubborn source: a credential runs its source for at most five
    // forced refreshes in a row (then one per 5 s, issue 21), so fifty retries take ten of them.
    const stubborns = Array.from(
      { length: STUBBORN_CREDENTIALS },
      (_, i) => `[credentials.stubborn${i}]\nsource = "command"\ncommand = ["${stubborn}"]\ntimeout = "100ms"\n\n`,
    ).join("");
    box.writeConfig(
      stubborns +
        `[credentials.background]\nsource = "command"\ncommand = ["${background}"]\ntimeout = "10s"\n\n` +
        `[credentials.plain]\nsource = "command"\ncommand = ["${plain}"]\n\n` +
        `[credentials.failing]\nsource = "command"\ncommand = ["${failing}"]\n`,
    );
    agent = await box.start();
  });

  afterAll(async () => {
    // The agent is killed with SIGKILL by cleanup: whatever a source left must go first, whatever the outcome.
    try {
      await box.cleanup();
    } finally {
      for (const script of scripts) killAll(sourceProcesses(script));
    }
  });

  test("a source ignoring SIGTERM is killed at each timeout; 50 retries leave the agent's children and fds flat", async () => {
    // One request first, so that the connection the test keeps open is part of the baseline, and
    // the cached tokens' reads done (they begin once the agent listens; each keyring entry read
    // holds a D-Bus connection).
    expect((await box.request("GET", "/v1/health")).status).toBe(200);
    await waitFor(() => box.agentLog.includes("cached tokens restored"), 5_000, "the cached tokens' reads at start");
    const baseFds = fdCount(agent);
    expect(childrenOf(agent)).toEqual([]);
    let maxChildren = 0;
    let maxFds = 0;
    for (let i = 0; i < 50; i++) {
      // A refresh runs the source at once, whatever the backoff after the previous failure, for
      // its first five in a row.
      const res = await box.request("POST", `/v1/credentials/stubborn${i % STUBBORN_CREDENTIALS}/refresh`);
      expect({ status: res.status, timedOut: res.body.includes("did not answer within 100ms") }).toEqual({ status: 503, timedOut: true });
      maxChildren = Math.max(maxChildren, childrenOf(agent).length);
      maxFds = Math.max(maxFds, fdCount(agent));
    }
    // Each attempt lives at most its 100 ms timeout plus the 2 s grace before SIGKILL, so about
    // 2.1 s / 0.1 s = 21 overlap at the very most, however many retries; the agent holds three
    // descriptors per live source (stdout, stderr, pidfd). Without the kill: one more per retry.
    expect(maxChildren).toBeLessThanOrEqual(25);
    expect(maxFds - baseFds).toBeLessThanOrEqual(80);
    // After the grace everything is gone: every attempt's shell (which had set its trap), its
    // sleeps, the pipes to them.
    await waitFor(() => sourceProcesses(stubborn).length === 0, 6_000, "every stubborn source process to be killed");
    expect(childrenOf(agent)).toEqual([]);
    const recorded = readFileSync(pidFile, "utf8").trim().split("\n").map(Number);
    expect(recorded.length).toBeGreaterThanOrEqual(25);
    await waitFor(() => fdCount(agent) <= baseFds + 2, 3_000, `the agent's descriptors to come back to ${baseFds}`);
  }, 30_000);

  test("a source that leaves a background child on its stdout: its token is served at once, the child is killed", async () => {
    const started = Date.now();
    const r = await box.run(["get", "background"]);
    const elapsed = Date.now() - started;
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toBe("bg-token\n");
    // Its timeout is 10 s: the agent did not wait for the background child's end of the pipe.
    expect(elapsed).toBeLessThan(3_000);
    await waitFor(() => sourceProcesses(background).length === 0, 3_000, "the background sleep to be killed");
    expect(childrenOf(agent)).toEqual([]);
  }, 15_000);

  test("a plain source still works, and a failing one reports its stderr, never its stdout", async () => {
    const ok = await box.run(["get", "plain"]);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toBe("plain-token\n");
    const bad = await box.run(["get", "failing"]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain("exited with status 3: token expired: run 'tool login' first");
    expect(bad.stderr).not.toContain("never-quote-this-stdout");
  });
});

describe.skipIf(!hasProc)("stopping the agent", () => {
  let box: Sandbox;
  let stubborn: string;
  let pidFile: string;

  beforeAll(async () => {
    box = new Sandbox();
    pidFile = join(box.root, "running.pids");
    stubborn = box.script("stubborn-at-stop.sh", `export CREDAGENT_E2E_MARK="$0"\ntrap '' TERM\necho $$ >> ${pidFile}\nsleep 600`);
    // Fetched at start, in the background: no request in flight holds up the stop.
    box.writeConfig(`[credentials.slow]\nsource = "command"\ncommand = ["${stubborn}"]\ntimeout = "5m"\nprefetch = true\n`);
  });

  afterAll(async () => {
    try {
      await box.cleanup();
    } finally {
      killAll(sourceProcesses(stubborn));
    }
  });

  test("kills a running source that ignores SIGTERM rather than leaving it behind", async () => {
    const agent = await box.start();
    await waitFor(() => existsSync(pidFile), 5_000, "the prefetch to start the source");
    expect(sourceProcesses(stubborn).length).toBe(2);
    const stop = await box.run(["stop"]);
    expect(stop.code).toBe(0);
    expect(existsSync(`/proc/${agent}/stat`) && !readFileSync(`/proc/${agent}/stat`, "utf8").includes(") Z ")).toBe(false);
    await waitFor(() => sourceProcesses(stubborn).length === 0, 2_000, "the source to be killed with the agent");
  }, 15_000);
});
