import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { commandSource } from "../../../src/sources/command.ts";
import { CredagentError } from "../../../src/errors.ts";

// The command source with real shell scripts: what it returns, and that it leaves no process and
// no descriptor behind, however the script behaves. Each script appends the pid of every process
// it starts to a file, so that the test can check them and kill them whatever happens.

const dir = mkdtempSync("/tmp/ca-cmd-");
const pidFile = join(dir, "pids");
const GRACE_MS = 300;
const hasProc = existsSync("/proc/self/fd");

function script(name: string, body: string): string {
  const path = join(dir, name);
  writeFileSync(path, `#!/bin/sh\n${body}\n`, { mode: 0o755 });
  return path;
}

function recordedPids(): number[] {
  return existsSync(pidFile) ? readFileSync(pidFile, "utf8").trim().split("\n").filter(Boolean).map(Number) : [];
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  // A zombie is dead; it only waits for its parent (init, for an orphan) to reap it.
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return !hasProc;
  }
}

async function allGone(pids: number[], withinMs: number): Promise<boolean> {
  const deadline = Date.now() + withinMs;
  while (pids.some(alive)) {
    if (Date.now() > deadline) return false;
    await Bun.sleep(20);
  }
  return true;
}

function source(command: string[]) {
  return commandSource({ command, defaultLifetimeMs: 60_000, env: { PATH: process.env.PATH }, killGraceMs: GRACE_MS });
}

function fetchWith(command: string[], signal = new AbortController().signal) {
  return source(command).fetchToken({ signal, now: Date.now() });
}

afterAll(() => {
  for (const pid of recordedPids()) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
  rmSync(dir, { recursive: true, force: true });
});

describe("command source", () => {
  test("returns the token a program prints", async () => {
    const token = await fetchWith([script("ok.sh", `printf '{"access_token":"t-1","expires_in":120}'`)]);
    expect(token.value.reveal()).toBe("t-1");
  });

  test("a failure says the status and the last lines of stderr, never stdout", async () => {
    const err = await fetchWith([script("fail.sh", `echo secret-on-stdout\necho "not signed in" >&2\nexit 4`)]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CredagentError);
    expect((err as CredagentError).code).toBe("source_failed");
    expect((err as CredagentError).message).toBe(`'${join(dir, "fail.sh")}' exited with status 4: not signed in`);
    expect((err as CredagentError).message).not.toContain("secret-on-stdout");
  });

  test("a program killed by a signal is reported as such", async () => {
    const err = await fetchWith([script("killed.sh", "kill -KILL $$")]).catch((e: unknown) => e);
    expect((err as CredagentError).message).toContain("was killed by SIGKILL");
  });

  test("on abort, a group that ignores SIGTERM is killed after the grace, and the fetch ends with the abort's reason", async () => {
    const cmd = script("stubborn.sh", `trap '' TERM\necho $$ >> ${pidFile}\nsleep 600 &\necho $! >> ${pidFile}\nwait`);
    const before = recordedPids().length;
    const abort = new AbortController();
    const fetching = fetchWith([cmd], abort.signal).catch((e: unknown) => e);
    while (recordedPids().length < before + 2) await Bun.sleep(10);
    const pids = recordedPids().slice(before);
    const reason = new CredagentError("source_failed", "timed out");
    const aborted = Date.now();
    abort.abort(reason);
    await Bun.sleep(GRACE_MS / 2);
    // SIGTERM is ignored: both are still there during the grace.
    expect(pids.every(alive)).toBe(true);
    expect(await fetching).toBe(reason);
    expect(Date.now() - aborted).toBeLessThan(GRACE_MS + 1_000);
    expect(await allGone(pids, 500)).toBe(true);
  });

  test("a background child holding stdout does not delay the token, and is killed", async () => {
    const cmd = script("bg.sh", `sleep 600 &\necho $! >> ${pidFile}\nprintf 'bg-token'`);
    const before = recordedPids().length;
    const started = Date.now();
    const token = await fetchWith([cmd]);
    expect(token.value.reveal()).toBe("bg-token");
    expect(Date.now() - started).toBeLessThan(GRACE_MS);
    expect(await allGone(recordedPids().slice(before), 1_000)).toBe(true);
  });

  test("a program printing without end is stopped at 1 MiB", async () => {
    const cmd = script("flood.sh", `echo $$ >> ${pidFile}\nwhile :; do echo aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa; done`);
    const before = recordedPids().length;
    const started = Date.now();
    const err = await fetchWith([cmd]).catch((e: unknown) => e);
    expect((err as CredagentError).message).toContain("printed more than 1048576 bytes");
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(await allGone(recordedPids().slice(before), 500)).toBe(true);
  });

  test.skipIf(Bun.which("setsid") === null)(
    "a child that left the group still holding stdout costs the drain at most, and its pipe is closed",
    async () => {
      // setsid: the child makes a session of its own, out of reach of the group kill. Two seconds
      // on, it writes to the stdout it kept: that fails (EPIPE) only if the source closed its end.
      const state = join(dir, "escaped.state");
      const cmd = script(
        "escaped.sh",
        `setsid sh -c 'echo $$ >> ${pidFile}; trap "" PIPE; sleep 2; r=closed; echo late 2>/dev/null && r=open; echo $r > ${state}' &\n` +
          `sleep 0.1\nprintf 'kept-token'`,
      );
      const started = Date.now();
      const token = await fetchWith([cmd]);
      expect(token.value.reveal()).toBe("kept-token");
      expect(Date.now() - started).toBeLessThan(1_500);
      const deadline = Date.now() + 5_000;
      while (!existsSync(state) || readFileSync(state, "utf8") === "") {
        if (Date.now() > deadline) throw new Error("the escaped child never wrote its state");
        await Bun.sleep(20);
      }
      expect(readFileSync(state, "utf8").trim()).toBe("closed");
    },
    10_000,
  );
});
