import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { AuditLog } from "../../../src/log/audit.ts";

const dir = mkdtempSync("/tmp/ca-audit-");
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test("audit lines are JSON, 0600, batched after the caller returns, and rotated by size", async () => {
  const errors: unknown[] = [];
  const log = new AuditLog(join(dir, "state"), (e) => errors.push(e), 2_000);
  const entry = {
    event: "fetch" as const,
    decision: "allow" as const,
    reason: "no rules",
    credential: "db",
    pid: 1,
    uid: 2,
    exe: "/usr/bin/curl",
  };
  log.record(entry);
  expect(() => statSync(log.path)).toThrow();
  await new Promise((r) => setImmediate(r));
  expect(JSON.parse(readFileSync(log.path, "utf8").trim())).toMatchObject(entry);
  expect(statSync(log.path).mode & 0o777).toBe(0o600);
  for (let i = 0; i < 40; i++) {
    log.record(entry);
    await new Promise((r) => setImmediate(r));
  }
  expect(statSync(`${log.path}.1`).size).toBeGreaterThanOrEqual(2_000);
  expect(statSync(log.path).size).toBeLessThan(2_000 + 200);
  log.close();
  expect(errors).toEqual([]);
});

test("a request through credagent's CLI is recorded as the program, via the CLI", async () => {
  const log = new AuditLog(join(dir, "via"), () => {});
  log.record({
    event: "fetch",
    decision: "allow",
    reason: "ok",
    credential: "db",
    pid: 10,
    uid: 2,
    exe: "/usr/bin/dash",
    via: { exe: "/usr/bin/credagent", pid: 11 },
  });
  await new Promise((r) => setImmediate(r));
  expect(JSON.parse(readFileSync(log.path, "utf8").trim())).toMatchObject({
    pid: 10,
    exe: "/usr/bin/dash",
    via: { exe: "/usr/bin/credagent", pid: 11 },
  });
  log.close();
});

test("a log that cannot be written reports the error and never throws", () => {
  const errors: unknown[] = [];
  const log = new AuditLog("/proc/no-such-place", (e) => errors.push(e));
  log.record({ event: "fetch", decision: "deny", reason: "x", credential: null, pid: null, uid: null, exe: null });
  log.flush();
  expect(errors.length).toBe(1);
});
