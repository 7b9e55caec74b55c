import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { mkdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { processAlive, Sandbox, waitFor } from "./harness.ts";

// A full state disk (where agent.log and audit.log live) must cost log lines, never the agent:
// it used to spin at 95% CPU rewriting an ENOSPC error through the failing stream, holding the
// socket and ignoring SIGTERM. $XDG_STATE_HOME is a tiny tmpfs here, which needs root.

const canMount = process.getuid!() === 0 && Bun.which("mount") !== null && Bun.which("umount") !== null;
if (!canMount) {
  if (process.env.CI === "true") throw new Error("CI=true but the full-disk tests cannot run: they need root to mount a tmpfs");
  console.warn("skipping the full-disk tests: they need root to mount a tmpfs as XDG_STATE_HOME");
}

const TICKS_PER_SECOND = Number(Bun.spawnSync(["getconf", "CLK_TCK"]).stdout.toString().trim()) || 100;

/** CPU seconds (user + system) the process has used so far. */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // Fields after the command name, which is in parentheses and may hold spaces.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
}

/** CPU the agent burns over `ms` of doing nothing asked of it: a spinning agent uses ~all of it. */
async function idleCpu(pid: number, ms = 2_000): Promise<number> {
  const before = cpuSeconds(pid);
  await Bun.sleep(ms);
  return cpuSeconds(pid) - before;
}

function fill(dir: string): void {
  Bun.spawnSync(["dd", "if=/dev/zero", `of=${join(dir, "fill")}`, "bs=4k"], { stderr: "ignore" });
}

function agentsOn(box: Sandbox): number[] {
  const out = Bun.spawnSync(["pgrep", "-f", `agent .*${box.socket}`]).stdout.toString();
  return out.split("\n").filter(Boolean).map(Number);
}

describe.if(canMount)("a full state disk", () => {
  let box: Sandbox;
  let mounted = false;

  beforeEach(() => {
    box = new Sandbox();
    mkdirSync(box.stateDir, { recursive: true });
    const r = Bun.spawnSync(["mount", "-t", "tmpfs", "-o", "size=64k,mode=0700", "tmpfs", box.stateDir]);
    if (r.exitCode !== 0) throw new Error(`mount failed: ${r.stderr.toString()}`);
    mounted = true;
    box.writeConfig(
      `[credentials.good]\nsource = "command"\ncommand = ["/bin/echo", "good-token"]\n` +
        `[credentials.bad]\nsource = "command"\ncommand = ["/bin/false"]\n`,
    );
  });

  afterEach(async () => {
    // The agent holds agent.log open on the tmpfs: it must be gone before the unmount.
    for (const pid of agentsOn(box)) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // already gone
      }
      await waitFor(() => !processAlive(pid), 5_000, `agent ${pid} to end`).catch(() => {});
    }
    if (mounted && Bun.spawnSync(["umount", box.stateDir]).exitCode !== 0) Bun.spawnSync(["umount", "-l", box.stateDir]);
    mounted = false;
    rmSync(box.root, { recursive: true, force: true });
  });

  test("full before start: start gives a working agent or a clear error, never a wedged one", async () => {
    fill(box.stateDir);
    const started = Date.now();
    const r = await box.run(["start", "-s"], { timeoutMs: 25_000 });
    expect(Date.now() - started).toBeLessThan(15_000);
    if (r.code === 0) {
      const pid = Number(/CRED_AGENT_PID=(\d+)/.exec(r.stdout)?.[1]);
      expect(processAlive(pid)).toBe(true);
      const get = await box.run(["get", "good"], { timeoutMs: 10_000 });
      expect(get.stdout.trim()).toBe("good-token");
      expect(await idleCpu(pid)).toBeLessThan(0.3);
      const stop = await box.run(["stop"], { timeoutMs: 10_000 });
      expect(stop.code).toBe(0);
      await waitFor(() => !processAlive(pid), 5_000, "the agent to stop");
    } else {
      // A clear message names the cause, not just an exit status.
      expect(r.stderr).toMatch(/credagent start: .*(no space|ENOSPC)/i);
      // Whatever it says, it must not leave an agent behind holding the socket and its lock.
      await waitFor(() => agentsOn(box).length === 0, 5_000, "no agent left on the socket");
    }
  });

  test("filling up mid-run: gets keep working, the agent stays idle, stop stops it, and it says what it dropped", async () => {
    const pid = await box.start();
    fill(box.stateDir);
    // Log lines: each reload logs one, each failed fetch one, each request an audit line.
    for (let i = 0; i < 60; i++) {
      process.kill(pid, "SIGHUP");
      if (i % 10 === 0) await box.run(["get", "bad"], { timeoutMs: 10_000 });
      await Bun.sleep(15);
    }
    const get = await box.run(["get", "good"], { timeoutMs: 10_000 });
    expect(get.code).toBe(0);
    expect(get.stdout.trim()).toBe("good-token");
    expect(await idleCpu(pid)).toBeLessThan(0.3);

    // Space again: the next line that gets through is told how many were lost.
    rmSync(join(box.stateDir, "fill"));
    // A new kind of line: the 61st reload line in a second would be counted, not written (the log
    // takes 20 lines of one kind in 10 s).
    await box.run(["refresh", "good"], { timeoutMs: 10_000 });
    await waitFor(() => /log lines were dropped .*count=\d+ error=ENOSPC/.test(box.agentLog), 5_000, "the dropped-lines notice");
    fill(box.stateDir);

    const started = Date.now();
    const stop = await box.run(["stop"], { timeoutMs: 10_000 });
    expect(stop.code).toBe(0);
    await waitFor(() => !processAlive(pid), 5_000, "the agent to stop");
    expect(Date.now() - started).toBeLessThan(5_000);
  });
});
