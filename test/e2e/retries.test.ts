import { afterEach, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { countingSource, Sandbox } from "./harness.ts";

// Retries that help the user, with the real binary: `secret set` makes a running agent retry at
// once what failed for want of the secret, and agents on different sockets sharing one log file
// write lines that say which agent wrote them.

const boxes: Sandbox[] = [];
function sandbox(): Sandbox {
  const box = new Sandbox();
  boxes.push(box);
  box.env.CRED_SOCK = box.socket;
  // The encrypted file store of this sandbox: no shared keyring, nothing left behind.
  box.env.CREDAGENT_FILE_PASSPHRASE = "e2e-retries-passphrase";
  return box;
}
afterEach(async () => {
  await Promise.all(boxes.splice(0).map((b) => b.cleanup()));
});

describe("secret set and a running agent", () => {
  test("a static credential failing for want of its secret is served right after 'secret set', with no backoff wait", async () => {
    const box = sandbox();
    box.writeConfig(`keyring = "file"\n\n[credentials.db]\nsource = "static"\nlifetime = "1h"\n\n[credentials.other]\nsource = "static"\n`);
    // Without an agent, `secret set` stores and says nothing of one.
    const alone = await box.run(["secret", "set", "other", "--stdin"], { input: "other-value" });
    expect(alone.code).toBe(0);
    expect(alone.stderr).toBe(
      `credagent: secret 'other' stored in the encrypted file store at ${join(box.root, "data", "credagent", "store")}\n`,
    );
    await box.start();

    const missing = await box.run(["get", "db"]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain("no secret is stored for 'db'");
    expect(missing.stderr).toContain("set one with: credagent secret set db");
    expect(missing.stderr).toContain("not retried on its own");

    // A missing secret is not retried in the background (before: at 1 s, 3 s, 7 s, … forever),
    // so after this pause the next background slot would have been seconds away.
    await Bun.sleep(3_700);
    expect(box.agentLog.match(/token fetch failed credential=db /g)?.length).toBe(1);
    const listed = JSON.parse((await box.run(["list", "--json"])).stdout) as Array<{ name: string; state: string; last_error: string }>;
    expect(listed.find((c) => c.name === "db")).toMatchObject({ state: "failing" });
    expect(listed.find((c) => c.name === "db")!.last_error).toContain("'credagent refresh db'");

    const set = await box.run(["secret", "set", "db", "--stdin"], { input: "db-password" });
    expect(set.code).toBe(0);
    expect(set.stderr).toContain("the running agent retries 'db' without waiting for its backoff");
    // Within the 5 s floor of the failure, so only the notice can have made this succeed.
    const got = await box.run(["get", "db"]);
    expect(got.stderr).toBe("");
    expect(got.stdout).toBe("db-password\n");
    expect(box.agentLog.match(/token fetch failed credential=db /g)?.length).toBe(1);

    // A secret nothing is failing for: stored, and no retry is announced.
    const again = await box.run(["secret", "set", "other", "--stdin"], { input: "other-2" });
    expect(again.code).toBe(0);
    expect(again.stderr).not.toContain("retries");
  }, 30_000);
});

describe("the agent's log", () => {
  test("two agents on different sockets share the log file, and every line names its agent's pid", async () => {
    const box = sandbox();
    const counter = countingSource(box, "tok", 3600);
    box.writeConfig(`[credentials.tok]\nsource = "command"\ncommand = ["${counter.script}"]\n`);
    const otherSocket = join(box.runtimeDir, "other.sock");
    const first = await box.start();
    const second = await box.start(["-a", otherSocket]);
    expect(first).not.toBe(second);
    expect((await box.request("GET", "/v1/credentials/tok")).status).toBe(200);
    expect((await box.request("GET", "/v1/credentials/tok", otherSocket)).status).toBe(200);

    const lines = box.agentLog.trimEnd().split("\n");
    const pids = new Set<number>();
    for (const line of lines) {
      const head = /^\d{4}-\d\d-\d\dT[\d:.]+Z \[(\d+)\] (DEBUG|INFO|WARN|ERROR) \S/.exec(line);
      expect(head, line).not.toBeNull();
      pids.add(Number(head![1]));
    }
    expect([...pids].sort()).toEqual([first, second].sort());
    const ready = (pid: number) => lines.find((l) => l.includes(`[${pid}] INFO agent ready`));
    expect(ready(first)).toContain(`socket=${box.socket}`);
    expect(ready(second)).toContain(`socket=${otherSocket}`);
    for (const pid of [first, second]) expect(lines.some((l) => l.includes(`[${pid}] INFO token obtained credential=tok`))).toBe(true);
  }, 30_000);
});
