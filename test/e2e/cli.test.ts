import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { countingSource, Sandbox } from "./harness.ts";

let box: Sandbox;
let db: ReturnType<typeof countingSource>;

beforeAll(async () => {
  box = new Sandbox();
  db = countingSource(box, "db", 3600);
  const failing = box.script("fail.sh", "echo 'login expired, run az login' >&2; exit 3");
  const az = box.script(
    "az.sh",
    `echo '{"accessToken":"az-token","expiresOn":"2099-01-01 00:00:00.000000","expires_on":4070908800,"tokenType":"Bearer"}'`,
  );
  box.writeConfig(
    `[credentials.db]\nsource = "command"\ncommand = ["${db.script}"]\n\n` +
      `[credentials.broken]\nsource = "command"\ncommand = ["${failing}"]\n\n` +
      `[credentials.az]\nsource = "command"\ncommand = ["${az}", "account", "get-access-token"]\n\n` +
      `[credentials.missing]\nsource = "command"\ncommand = ["/nonexistent/tool"]\n`,
  );
  box.env.CRED_SOCK = box.socket;
  await box.start();
});
afterAll(() => box.cleanup());

describe("CLI against a running agent", () => {
  test("get prints the token alone; --json the whole answer", async () => {
    const plain = await box.run(["get", "db"]);
    expect(plain).toEqual({ code: 0, stdout: "db-1\n", stderr: "" });
    const json = JSON.parse((await box.run(["get", "db", "--json"])).stdout);
    expect(json).toMatchObject({ name: "db", token: "db-1", token_type: "Bearer" });
    expect(json.expires_in).toBeGreaterThan(3590);
    expect(db.count()).toBe(1);
  });

  test("Azure CLI style output is understood", async () => {
    const json = JSON.parse((await box.run(["get", "az", "--json"])).stdout);
    expect(json.token).toBe("az-token");
    expect(json.expires_at).toBe("2099-01-01T00:00:00.000Z");
  });

  test("--min-valid longer than the token has left fetches a new one", async () => {
    const before = db.count();
    expect((await box.run(["get", "db", "--min-valid", "10m"])).stdout).toBe(`db-${before}\n`);
    const r = await box.run(["get", "db", "--min-valid", "2h"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("less than the 2h00m asked for");
    expect((await box.run(["get", "db", "--min-valid", "soon"])).code).toBe(2);
  });

  test("refresh fetches now and does not print the token", async () => {
    const before = db.count();
    const r = await box.run(["refresh", "db"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^db: refreshed, expires in 59m5\ds/);
    expect(r.stdout).not.toContain("db-");
    expect(db.count()).toBe(before + 1);
    expect((await box.run(["get", "db"])).stdout).toBe(`db-${before + 1}\n`);
  });

  test("a failing source: exit 1 with its reason on stderr, visible in status", async () => {
    const r = await box.run(["get", "broken"]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr).toContain("login expired, run az login");
    const missing = await box.run(["get", "missing"]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain("/nonexistent/tool");
    const status = await box.run(["status"]);
    expect(status.code).toBe(0);
    expect(status.stdout).toMatch(/^agent pid \d+, socket .*cred\.sock, up \S+, version /);
    expect(status.stdout).toMatch(/broken\s+command\s+failing\s+-\s+'\S*fail\.sh' exited with status 3/);
    expect(status.stdout).toMatch(/db\s+command\s+fresh\s+in 59m/);
  });

  test("status --json and list", async () => {
    const status = JSON.parse((await box.run(["status", "--json"])).stdout);
    expect(status.agent.socket).toBe(box.socket);
    expect(status.agent.uptime_seconds).toBeGreaterThanOrEqual(0);
    expect(status.credentials.map((c: { name: string }) => c.name)).toEqual(["db", "broken", "az", "missing"]);
    const list = await box.run(["list"]);
    expect(list.stdout.split("\n")[0]).toMatch(/^NAME\s+SOURCE\s+STATE\s+EXPIRES$/);
    expect(list.stdout).not.toContain("db-");
  });

  test("unknown names and bad names", async () => {
    const unknown = await box.run(["get", "nope"]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain("no credential named 'nope'");
    const bad = await box.run(["get", "../etc"]);
    expect(bad.code).toBe(2);
  });

  test("exec passes tokens in the environment only, and passes the exit status through", async () => {
    const r = await box.run(["exec", "--env", "TOKEN=db", "--env", "AZ=az", "--", "sh", "-c", 'printf "%s %s" "$TOKEN" "$AZ"; exit 7']);
    expect(r.code).toBe(7);
    expect(r.stdout).toMatch(/^db-\d+ az-token$/);
    const killed = await box.run(["exec", "--env", "T=db", "--", "sh", "-c", "kill -TERM $$"]);
    expect(killed.code).toBe(143);
    expect((await box.run(["exec", "--env", "T=db", "sh"])).code).toBe(2);
    expect((await box.run(["exec", "--", "true"])).code).toBe(2);
    expect((await box.run(["exec", "--env", "1X=db", "--", "true"])).code).toBe(2);
    const failing = await box.run(["exec", "--env", "T=broken", "--", "echo", "ran"]);
    expect(failing.code).toBe(1);
    expect(failing.stdout).toBe("");
  });

  test("help on every command, usage errors exit 2, version", async () => {
    for (const cmd of ["start", "stop", "status", "get", "list", "refresh", "exec", "agent"]) {
      const r = await box.run([cmd, "--help"]);
      expect(r.code).toBe(0);
      expect(r.stdout).toStartWith(`usage: credagent ${cmd}`);
    }
    expect((await box.run(["help"])).stdout).toContain("usage: credagent COMMAND");
    expect((await box.run(["version"])).stdout).toMatch(/^credagent \d+\.\d+\.\d+/);
    expect((await box.run(["frobnicate"])).code).toBe(2);
    expect((await box.run(["get", "db", "--bogus"])).code).toBe(2);
    expect((await box.run(["list", "extra"])).code).toBe(2);
  });

  test("no agent: exit 3 with how to start one", async () => {
    const r = await box.run(["get", "db"], { env: { CRED_SOCK: `${box.root}/none.sock` } });
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('eval "$(credagent start)"');
  });

  test("tokens never reach the agent's log", () => {
    expect(box.agentLog).toContain("token obtained credential=db");
    expect(box.agentLog).not.toMatch(/db-\d|az-token/);
  });
});
