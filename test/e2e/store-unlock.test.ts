import { afterEach, expect, test } from "bun:test";
import { join } from "node:path";
import { BIN, Sandbox } from "./harness.ts";

// First run without a Secret Service: the agent starts with the file store locked, says so, and
// `credagent unlock` gives the running agent its passphrase (as ssh-add gives keys to ssh-agent).
const boxes: Sandbox[] = [];
afterEach(async () => {
  await Promise.all(boxes.splice(0).map((b) => b.cleanup()));
});

function sandbox(): Sandbox {
  const box = new Sandbox();
  boxes.push(box);
  box.env.CRED_SOCK = box.socket;
  delete box.env.DBUS_SESSION_BUS_ADDRESS;
  box.writeConfig(`keyring = "file"\n\n[credentials.db]\nsource = "static"\n`);
  return box;
}

test("the agent starts with the file store locked; unlock --stdin opens it; a wrong passphrase is a 403", async () => {
  const box = sandbox();
  const set = await box.run(["secret", "set", "db", "--stdin"], { input: "file-secret", env: { CREDAGENT_FILE_PASSPHRASE: "right-pass" } });
  expect(set.code).toBe(0);

  await box.start();
  const before = await box.run(["get", "db"]);
  expect(before.code).not.toBe(0);
  expect(before.stderr).toContain("run 'credagent unlock'");

  const status = await box.run(["status"]);
  expect(status.code).toBe(0);
  expect(status.stdout).toMatch(/^store locked: .*credagent unlock/m);
  const health = JSON.parse((await box.request("GET", "/v1/health")).body) as { locked: boolean; store: { state: string } };
  expect(health.locked).toBe(false);
  expect(health.store.state).toBe("locked");

  const wrong = await box.run(["unlock", "--stdin"], { input: "wrong-pass\n" });
  expect(wrong.code).not.toBe(0);
  expect(wrong.stderr).toContain("wrong passphrase for the encrypted file store");
  const raw = await fetch("http://localhost/v1/unlock", {
    method: "POST",
    unix: box.socket,
    body: JSON.stringify({ passphrase: "wrong-again" }),
    headers: { "content-type": "application/json" },
    signal: AbortSignal.timeout(10_000),
  });
  expect(raw.status).toBe(403);
  expect((await box.run(["status"])).stdout).toMatch(/^store locked/m);

  const right = await box.run(["unlock", "--stdin"], { input: "right-pass\n" });
  expect(right.stderr).toContain("secret store unlocked");
  expect(right.code).toBe(0);
  const after = await box.run(["get", "db"]);
  expect(after.stderr).toBe("");
  expect(after.stdout).toBe("file-secret\n");
  expect((await box.run(["status"])).stdout).toMatch(/^store open: /m);
  // Neither passphrase went to the log.
  expect(box.agentLog).toContain("credagent unlock");
  expect(box.agentLog).not.toContain("right-pass");
  expect(box.agentLog).not.toContain("wrong-pass");

  // Nothing waits for a passphrase any more: unlock says so.
  const again = await box.run(["unlock", "--stdin"], { input: "right-pass\n" });
  expect(again.code).not.toBe(0);
  expect(again.stderr).toContain("not locked");
}, 30_000);

test("after an agent lock and unlock, the store opens again with the passphrase given earlier", async () => {
  const box = sandbox();
  expect(
    (await box.run(["secret", "set", "db", "--stdin"], { input: "file-secret", env: { CREDAGENT_FILE_PASSPHRASE: "right-pass" } })).code,
  ).toBe(0);
  await box.start();
  expect((await box.run(["unlock", "--stdin"], { input: "right-pass\n" })).code).toBe(0);
  expect((await box.run(["lock", "--stdin"], { input: "lock-pass\n" })).code).toBe(0);
  expect((await box.run(["unlock", "--stdin"], { input: "lock-pass\n" })).stderr).toContain("agent unlocked");
  expect((await box.run(["get", "db"])).stdout).toBe("file-secret\n");
}, 30_000);

test("the OS keyring notice is said when the file store is created, not on every command", async () => {
  const box = sandbox();
  box.writeConfig(`[credentials.db]\nsource = "static"\n`); // keyring = "auto", and no Secret Service
  const env = { CREDAGENT_FILE_PASSPHRASE: "right-pass", DBUS_SESSION_BUS_ADDRESS: "unix:path=/nonexistent/bus" };
  const first = await box.run(["secret", "set", "db", "--stdin"], { input: "one", env });
  expect(first.code).toBe(0);
  expect(first.stderr).toContain("the OS keyring is not available");
  for (const args of [
    ["secret", "set", "db", "--stdin"],
    ["secret", "list"],
  ]) {
    const later = await box.run(args, { input: "two", env });
    expect(later.code).toBe(0);
    expect(later.stderr).not.toContain("OS keyring");
  }
}, 30_000);

test("start on a terminal offers the store's passphrase prompt; elsewhere it says what to run", async () => {
  const box = sandbox();
  expect(
    (await box.run(["secret", "set", "db", "--stdin"], { input: "file-secret", env: { CREDAGENT_FILE_PASSPHRASE: "right-pass" } })).code,
  ).toBe(0);
  const ptyRun = (steps: Array<[string, string]>, args: string[]) => {
    const r = Bun.spawnSync(["python3", join(import.meta.dir, "../support/pty-run.py"), JSON.stringify(steps), BIN, ...args], {
      env: box.env,
      timeout: 40_000,
    });
    return JSON.parse(r.stdout.toString()) as { code: number; output: string };
  };
  // The same words as every other prompt for this passphrase.
  const prompt = "Passphrase of the encrypted file store: ";
  // A wrong passphrase is said and asked again; the right one opens the store; neither is echoed.
  const started = ptyRun(
    [
      [prompt, "wrong-pass\r"],
      ["wrong passphrase", ""],
      [prompt, "right-pass\r"],
    ],
    ["start", "-s"],
  );
  // The agent it started answers at the sandbox's socket: cleanup() finds and stops it there.
  expect(started.code).toBe(0);
  expect(started.output).toContain("secret store unlocked");
  expect(started.output).not.toContain("right-pass");
  expect(started.output).not.toContain("wrong-pass");
  expect((await box.run(["get", "db"])).stdout).toBe("file-secret\n");

  // Without a terminal (and with the store locked again after a restart), start only says what to run.
  expect((await box.run(["stop"])).code).toBe(0);
  const piped = await box.run(["start", "-s"]);
  expect(piped.code).toBe(0);
  expect(piped.stderr).toContain("stays locked until 'credagent unlock' gives it its passphrase ('db' cannot be served without it)");
  expect((await box.run(["status"])).stdout).toMatch(/^store locked: .*\n {2}to be used because keyring = "file"\n {2}needed by db$/m);
}, 60_000);

test("start says nothing of a locked file store that no credential needs; status says so", async () => {
  const box = sandbox();
  box.writeConfig(`keyring = "file"\n\n[credentials.cmd]\nsource = "command"\ncommand = ["echo", "tok"]\n`);
  const started = await box.run(["start", "-s"]);
  expect(started.code).toBe(0);
  expect(started.stderr).toBe("");
  const status = await box.run(["status"]);
  expect(status.stdout).toMatch(/^store locked: .*\n.*\n {2}no credential needs it/m);
  expect((await box.run(["get", "cmd"])).stdout).toBe("tok\n");
}, 30_000);

test("keyring auto with no Secret Service: the store is locked from its first use, the notice is logged once", async () => {
  const box = sandbox();
  box.env.DBUS_SESSION_BUS_ADDRESS = "unix:path=/nonexistent/bus";
  box.writeConfig(`[credentials.db]\nsource = "static"\n`);
  expect(
    (await box.run(["secret", "set", "db", "--stdin"], { input: "file-secret", env: { CREDAGENT_FILE_PASSPHRASE: "right-pass" } })).code,
  ).toBe(0);
  await box.start();
  for (let i = 0; i < 3; i += 1) {
    const refused = await box.run(["get", "db"]);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain("run 'credagent unlock'");
    await box.run(["refresh", "db"]);
  }
  expect((await box.run(["status"])).stdout).toMatch(/^store locked/m);
  expect(box.agentLog.match(/the OS keyring is not available/g)?.length).toBe(1);
  // Neither locked: unlock says so plainly once the store is open.
  expect((await box.run(["unlock", "--stdin"], { input: "right-pass\n" })).code).toBe(0);
  expect((await box.run(["get", "db"])).stdout).toBe("file-secret\n");
  const again = await box.run(["unlock", "--stdin"], { input: "x\n" });
  expect(again.stderr).toContain("does not wait for a passphrase");
}, 30_000);
