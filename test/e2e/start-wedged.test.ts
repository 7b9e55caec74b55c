import { afterEach, expect, test } from "bun:test";
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { processAlive, Sandbox, waitFor } from "./harness.ts";

// `credagent start` must not leave behind an agent it started that never became ready: such an
// agent holds the socket and its lock, and every later `get` hangs on it.

let box: Sandbox | undefined;

function agentsOn(sandbox: Sandbox): number[] {
  const out = Bun.spawnSync(["pgrep", "-f", `agent .*${sandbox.socket}`]).stdout.toString();
  return out.split("\n").filter(Boolean).map(Number);
}

afterEach(async () => {
  if (!box) return;
  for (const pid of agentsOn(box)) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
  await box.cleanup();
  box = undefined;
});

test("an agent that never becomes ready is stopped by the start that began it", async () => {
  box = new Sandbox();
  // Reading a FIFO nobody writes blocks the agent before it is ready, forever.
  const fifo = join(box.root, "config.fifo");
  execFileSync("mkfifo", [fifo]);
  const r = await box.run(["start", "-s", "--config", fifo], { timeoutMs: 25_000 });
  expect(r.code).not.toBe(0);
  expect(r.stderr).toContain("did not become ready within 10s and was stopped");
  const left = agentsOn(box);
  await waitFor(() => left.every((pid) => !processAlive(pid)) && agentsOn(box!).length === 0, 3_000, "no agent left behind");
  // The socket is free: a good start afterwards works.
  box.writeConfig("");
  const pid = await box.start();
  expect(processAlive(pid)).toBe(true);
}, 30_000);
