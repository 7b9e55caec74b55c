import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { BIN, countingSource, Sandbox, waitFor } from "./harness.ts";

// Another user floods the agent with requests it refuses (issue 21, item 2): tens of thousands in
// a few seconds, on the socket (loosened by hand) and on the SDK endpoints (open to every local
// user). Each refusal used to write a log line and an audit line: agent.log grew 21 MiB in 10 s
// and a 2-second flood rotated the owner's history out of the audit log. Now refusals are counted,
// the log's lines of one kind are bounded, and refusals have their own share of the audit log.

const USER = "credagent-e2e";
const FLOOD = resolve(import.meta.dir, "../support/refusal-flood.py");
const canSwitchUser = process.getuid!() === 0 && Bun.which("useradd") !== null && Bun.which("runuser") !== null;
if (!canSwitchUser) {
  if (process.env.CI === "true") throw new Error("CI=true but the log-flood test cannot run: it needs root (useradd, runuser)");
  console.warn("skipping the log-flood test: it needs root (a second user)");
}

const auditPath = (box: Sandbox) => join(box.stateDir, "credagent", "audit.log");
const auditLines = (box: Sandbox) =>
  readFileSync(auditPath(box), "utf8")
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l));
const size = (path: string) => (existsSync(path) ? statSync(path).size : 0);

describe.if(canUseradd())("another user's flood of refused requests", () => {
  let box: Sandbox;
  let shared: string;
  let uid: number;
  beforeAll(async () => {
    Bun.spawnSync(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", USER]);
    uid = Number(Bun.spawnSync(["id", "-u", USER]).stdout.toString().trim());
    box = new Sandbox();
    const gcp = countingSource(box, "gcp", 3600);
    const db = countingSource(box, "db", 3600);
    box.writeConfig(
      `[endpoints]\ngcp = "gcp"\n\n[credentials.gcp]\nsource = "command"\ncommand = ["${gcp.script}"]\n\n` +
        `[credentials.db]\nsource = "command"\ncommand = ["${db.script}"]\n`,
    );
    box.env.CRED_SOCK = box.socket;
    await box.start();
    // The flooder where the other user can read it (the sandbox is 0700).
    shared = mkdtempSync("/tmp/ca-flood-");
    chmodSync(shared, 0o755);
    copyFileSync(FLOOD, join(shared, "flood.py"));
    chmodSync(join(shared, "flood.py"), 0o644);
  }, 30_000);
  afterAll(async () => {
    await box?.cleanup();
    if (shared) rmSync(shared, { recursive: true, force: true });
  });

  test("leaves the owner's earlier allowed audit lines in place, and agent.log and audit.log bounded", async () => {
    // The owner's history: three programs (three shells) fetched db.
    for (let i = 0; i < 3; i++) {
      const r = Bun.spawnSync(["sh", "-c", `"$0" get db`, BIN], { env: box.env });
      expect(r.stdout.toString()).toBe("db-1\n");
    }
    await waitFor(() => auditLines(box).filter((l) => l.decision === "allow").length === 3, 3_000, "the owner's audit lines");
    const owners = auditLines(box).filter((l) => l.decision === "allow");
    const agentLog = join(box.stateDir, "credagent", "agent.log");
    const logBefore = size(agentLog);
    const auditBefore = size(auditPath(box));

    // Loosened by hand: the uid check must hold, and its refusals must not flood.
    chmodSync(box.root, 0o755);
    chmodSync(box.runtimeDir, 0o755);
    chmodSync(box.socket, 0o666);
    const port = new URL(JSON.parse(readFileSync(`${box.socket}.endpoints`, "utf8")).url).port;
    let flood: { unix: number; tcp: number };
    try {
      const r = Bun.spawnSync(
        [
          "runuser",
          "-u",
          USER,
          "--",
          "python3",
          join(shared, "flood.py"),
          // Until the counts are reached (about 10 s on an idle machine), or 40 s on a loaded one.
          "40",
          "2",
          `unix:${box.socket}:3000`,
          `tcp:127.0.0.1:${port}:20000`,
        ],
        { timeout: 70_000 },
      );
      flood = JSON.parse(r.stdout.toString() || "null") ?? { unix: 0, tcp: 0 };
      if (flood.unix + flood.tcp === 0) throw new Error(`the flood as ${USER} did nothing (${r.exitCode}): ${r.stderr.toString()}`);
    } finally {
      chmodSync(box.runtimeDir, 0o700);
      chmodSync(box.socket, 0o600);
      chmodSync(box.root, 0o700);
    }
    console.log(`refused requests of another user: ${flood.unix} on the socket, ${flood.tcp} on the SDK endpoints`);
    // Enough to rotate the owner's history away twice over at one audit line each (~170 bytes).
    expect(flood.unix).toBeGreaterThanOrEqual(1_000);
    expect(flood.tcp).toBeGreaterThanOrEqual(5_000);

    // The agent still serves its owner.
    expect((await box.run(["get", "db"])).stdout).toBe("db-1\n");
    // The owner's lines are where they were: in the current file, not rotated away.
    expect(existsSync(`${auditPath(box)}.1`)).toBe(false);
    const after = auditLines(box);
    for (const line of owners) expect(after).toContainEqual(line);
    // A few lines for the whole flood, not one a request.
    expect(size(auditPath(box)) - auditBefore).toBeLessThan(16_384);
    expect(size(agentLog) - logBefore).toBeLessThan(32_768);
    expect(after.filter((l) => l.uid === uid).length).toBeGreaterThan(0);

    // Stopping writes the counts still open: the refusals are all accounted for, under the other user's uid.
    expect((await box.run(["stop"])).code).toBe(0);
    const refusals = auditLines(box).filter((l) => l.uid === uid && l.decision === "deny");
    const told = refusals.reduce((sum, l) => sum + (l.count ?? 1), 0);
    expect(told).toBeGreaterThanOrEqual((flood.unix + flood.tcp) * 0.9);
    // The log tells the flood in a line per door and peer, with its count.
    expect(box.agentLog).toMatch(
      new RegExp(`connections refused \\(one line per peer and minute\\) door=sdk-endpoints uid=${uid} pid=null count=\\d+`),
    );
  }, 120_000);
});

function canUseradd(): boolean {
  return canSwitchUser;
}
