import { afterAll, beforeAll, expect, test } from "bun:test";
import { copyFileSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { BIN, countingSource, Sandbox, waitFor } from "./harness.ts";

// A peer chooses its executable's path, and a source's error output is whatever the command
// printed. Shown raw, they drive the terminal of whoever looks: `credagent approve` listed a
// program under /tmp as /usr/bin/psql (an ESC[2K and a carriage return in a directory name; issue
// 21, item 9). Every place the CLI and the logs show such a string shows its control characters
// escaped.

const CURL = Bun.which("curl")!;
const ESC = "\u001b";
// A directory named "ESC[2K CR", then usr/bin/psql: on a terminal the line is erased and only
// "/usr/bin/psql" remains.
const SPOOF_DIR = `${ESC}[2K\r`;

let box: Sandbox;
let fake: string;
beforeAll(async () => {
  box = new Sandbox();
  const c = countingSource(box, "c", 3600);
  const bad = box.script("bad.sh", `printf 'failed \\033[2K\\r\\033]0;owned\\007 all is well\\n' >&2; exit 1`);
  box.writeConfig(
    `[agent]\nconfirm_timeout = "30s"\n\n[credentials.c]\nsource = "command"\ncommand = ["${c.script}"]\nconfirm = true\n\n` +
      `[credentials.bad]\nsource = "command"\ncommand = ["${bad}"]\n`,
  );
  box.env.CRED_SOCK = box.socket;
  const dir = join(box.root, SPOOF_DIR, "usr", "bin");
  mkdirSync(dir, { recursive: true });
  fake = join(dir, "psql");
  copyFileSync(CURL, fake);
  Bun.spawnSync(["chmod", "755", fake]);
  await box.start();
});
afterAll(() => box.cleanup());

test("approve, log, status, an error message and the agent's log show a peer's control characters escaped", async () => {
  const asking = Bun.spawn([fake, "-s", "--unix-socket", box.socket, "http://localhost/v1/credentials/c"], { stdout: "pipe" });
  try {
    let listing = "";
    await waitFor(
      async () => {
        listing = (await box.run(["approve"])).stdout;
        return listing.includes("psql");
      },
      10_000,
      "the pending approval",
    );
    expect(listing).not.toContain(ESC);
    expect(listing).not.toContain("\r");
    expect(listing).toContain(`${join(box.root, "\\x1b[2K\\x0d", "usr/bin/psql")}`);

    const id = /^([0-9a-f]{8})\s/m.exec(listing.split("\n")[1] ?? "")![1]!;
    const denied = Bun.spawnSync(["python3", join(import.meta.dir, "../support/pty-run.py"), "[]", BIN, "approve", "--deny", id], {
      env: box.env,
    });
    expect(JSON.parse(denied.stdout.toString()).code).toBe(0);
    expect(await new Response(asking.stdout).text()).toContain("not confirmed by the user");

    await waitFor(() => readFileSync(join(box.stateDir, "credagent", "audit.log"), "utf8").includes("psql"), 3_000, "the audit line");
    const log = (await box.run(["log"])).stdout;
    expect(log).toContain("DENY fetch c by pid");
    expect(log).not.toContain(ESC);
    expect(log).toContain("\\x1b[2K\\x0d/usr/bin/psql");
    expect((await box.run(["log", "--json"])).stdout).not.toContain(ESC);
  } finally {
    asking.kill();
  }

  // A source's error output: in `get`'s error and in `status`.
  const get = await box.run(["get", "bad"]);
  expect(get.code).toBe(1);
  expect(get.stderr).toContain("all is well");
  expect(get.stderr).not.toContain(ESC);
  const status = (await box.run(["status"])).stdout;
  expect(status).toContain("bad");
  expect(status).not.toContain(ESC);
  expect((await box.run(["status", "--json"])).stdout).not.toContain(ESC);
  expect(box.agentLog).toContain("psql");
  expect(box.agentLog).not.toContain(ESC);
}, 60_000);
