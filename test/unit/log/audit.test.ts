import { afterAll, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { AuditLog } from "../../../src/log/audit.ts";
import { FakeClock, settle } from "../../support/fake-clock.ts";

const dir = mkdtempSync("/tmp/ca-audit-");
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test("audit lines are JSON, 0600, batched after the caller returns, and rotated by size", async () => {
  const errors: unknown[] = [];
  const log = new AuditLog(join(dir, "state"), (e) => errors.push(e), { maxBytes: 2_000 });
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
    log.record({ ...entry, pid: 100 + i });
    await new Promise((r) => setImmediate(r));
  }
  // Rotated before a line would take it past its size.
  expect(statSync(`${log.path}.1`).size).toBeLessThanOrEqual(2_000);
  expect(statSync(`${log.path}.1`).size).toBeGreaterThan(2_000 - 200);
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

const lines = (path: string) =>
  readFileSync(path, "utf8")
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l));

test("the same decision again within the window is one line at once and one with the count; refusals are not told apart by pid", async () => {
  const clock = new FakeClock();
  const log = new AuditLog(join(dir, "repeats"), () => {}, { now: () => clock.now(), later: (fn, ms) => clock.setTimeout(fn, ms) });
  const refused = {
    event: "connection" as const,
    decision: "deny" as const,
    reason: "another user's process",
    credential: null,
    uid: 1001,
    exe: null,
  };
  for (let pid = 100; pid < 5_100; pid++) log.record({ ...refused, pid });
  const allowed = {
    event: "fetch" as const,
    decision: "allow" as const,
    reason: "no rules",
    credential: "db",
    uid: 1000,
    exe: "/usr/bin/curl",
  };
  // Allowed fetches are told apart by process: two programs' fetches are two lines.
  log.record({ ...allowed, pid: 7 });
  log.record({ ...allowed, pid: 8 });
  log.record({ ...allowed, pid: 8 });
  await settle();
  expect(lines(log.path)).toMatchObject([
    { ...refused, pid: 100 },
    { ...allowed, pid: 7 },
    { ...allowed, pid: 8 },
  ]);
  await clock.advance(10_000);
  const after = lines(log.path);
  expect(after.length).toBe(5);
  expect(after.slice(3)).toEqual(
    expect.arrayContaining([
      expect.objectContaining({ ...refused, pid: 5_099, count: 4_999 }),
      expect.objectContaining({ ...allowed, pid: 8, count: 1 }),
    ]),
  );
  // The window closed: the next refusal is written at once again.
  log.record({ ...refused, pid: 1 });
  await settle();
  expect(lines(log.path).length).toBe(6);
  log.close();
});

test("more kinds of decision than tracked in a window share one counted line", async () => {
  const clock = new FakeClock();
  const log = new AuditLog(join(dir, "kinds"), () => {}, { now: () => clock.now(), later: (fn, ms) => clock.setTimeout(fn, ms) });
  for (let i = 0; i < 1_000; i++)
    log.record({ event: "fetch", decision: "deny", reason: "no rule matched", credential: `c${i}`, pid: i, uid: 1000, exe: "/bin/x" });
  await clock.advance(10_000);
  const written = lines(log.path);
  expect(written.length).toBe(257);
  expect(written[256]).toMatchObject({ count: 1_000 - 256, credential: "c999" });
  expect(written[256].reason).toContain("more kinds of decision");
  log.close();
});

test("refusals take at most half of each file: the allowed history is pushed out only by newer allowed decisions", async () => {
  const path = join(dir, "budget");
  const log = new AuditLog(path, () => {}, { maxBytes: 20_000 });
  const allowedLine = (i: number) => ({
    event: "fetch" as const,
    decision: "allow" as const,
    reason: "no rules",
    credential: "db",
    pid: i,
    uid: 1000,
    exe: "/usr/bin/psql",
  });
  for (let i = 0; i < 20; i++) log.record(allowedLine(i));
  await settle();
  // Another user's flood, each refusal a different kind (a new uid each: nothing is counted together).
  for (let i = 0; i < 50; i++) {
    for (let j = 0; j < 200; j++)
      log.record({
        event: "connection",
        decision: "deny",
        reason: "another user's process",
        credential: null,
        pid: j,
        uid: 2_000 + i * 200 + j,
        exe: null,
      });
    await settle();
  }
  const current = lines(join(path, "audit.log"));
  expect(current.filter((e) => e.decision === "allow").map((e) => e.pid)).toEqual([...Array(20).keys()]);
  expect(existsSync(join(path, "audit.log.1"))).toBe(false);
  expect(statSync(join(path, "audit.log")).size).toBeLessThanOrEqual(20_000 / 2 + 20 * 200 + 400);
  expect(current.find((e) => e.event === "audit")?.reason).toContain("counted, not written");
  // Allowed decisions keep being written, and when they rotate the file the refusals held back are counted in the new one.
  for (let i = 20; i < 80; i++) log.record(allowedLine(i));
  await settle();
  const rotated = lines(join(path, "audit.log.1"));
  expect(rotated.filter((e) => e.decision === "allow").length).toBeGreaterThan(20);
  const fresh = lines(join(path, "audit.log"));
  expect(fresh[0].event).toBe("audit");
  expect(fresh[0].count).toBeGreaterThan(100);
  log.close();
});

test("an agent restarted on a file already holding refusals counts them against their share", async () => {
  const path = join(dir, "restart");
  const first = new AuditLog(path, () => {}, { maxBytes: 20_000 });
  for (let i = 0; i < 200; i++)
    first.record({
      event: "connection",
      decision: "deny",
      reason: "another user's process",
      credential: null,
      pid: i,
      uid: 3_000 + i,
      exe: null,
    });
  await settle();
  first.close();
  const sizeBefore = statSync(join(path, "audit.log")).size;
  const second = new AuditLog(path, () => {}, { maxBytes: 20_000 });
  for (let i = 0; i < 200; i++)
    second.record({
      event: "connection",
      decision: "deny",
      reason: "another user's process",
      credential: null,
      pid: i,
      uid: 5_000 + i,
      exe: null,
    });
  await settle();
  expect(statSync(join(path, "audit.log")).size).toBeLessThanOrEqual(Math.max(sizeBefore, 10_000) + 400);
  second.close();
});
