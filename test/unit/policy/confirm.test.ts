import { expect, test } from "bun:test";
import { ConfirmationBroker, type Requester } from "../../../src/policy/confirm.ts";
import { createLogger } from "../../../src/log/log.ts";
import { FakeClock } from "../../support/fake-clock.ts";

const requester: Requester = { exe: "/usr/bin/psql", pid: 42, via: null, processes: [] };

function broker(clock: FakeClock) {
  const lines: string[] = [];
  const b = new ConfirmationBroker({
    timeoutMs: 60_000,
    clock,
    log: createLogger((l) => lines.push(l), "info"),
    desktopPrompt: async () => null,
  });
  return { b, lines };
}

test("an unanswered prompt is a no at the timeout, and not a moment before; the pending entry goes", async () => {
  const clock = new FakeClock();
  const { b, lines } = broker(clock);
  let settled: { approved: boolean; reason: string } | undefined;
  void b.confirm("db", requester).then((r) => (settled = r));
  await clock.advance(59_999);
  expect(settled).toBeUndefined();
  expect(b.list().map((p) => p.credential)).toEqual(["db"]);
  await clock.advance(1);
  expect(settled?.approved).toBe(false);
  expect(settled?.reason).toContain("unanswered");
  expect(b.list()).toEqual([]);
  expect(lines.join("\n")).toContain(`how="credagent approve ${lines.join("").match(/id=(\w+)/)?.[1]}"`);
});

test("a yes before the timeout approves the pair for the session, and cancels the timer", async () => {
  const clock = new FakeClock();
  const { b } = broker(clock);
  const asked = b.confirm("db", requester);
  const [pending] = b.list();
  b.answer(pending!.id, true, { kind: "terminal", pid: 77, exe: "/usr/bin/credagent", terminal: "/dev/pts/3" });
  expect((await asked).approved).toBe(true);
  expect(clock.pendingTimers).toBe(0);
  // Remembered: no second question.
  expect(await b.confirm("db", requester)).toEqual({ approved: true, reason: "confirmed earlier by the user" });
  expect(b.list()).toEqual([]);
});

test("the audit reason says who answered: the approving pid and its terminal, or the desktop prompt", async () => {
  const clock = new FakeClock();
  const { b } = broker(clock);
  const asked = b.confirm("db", requester);
  b.answer(b.list()[0]!.id, true, { kind: "terminal", pid: 77, exe: "/usr/bin/credagent", terminal: "/dev/pts/3" });
  expect((await asked).reason).toBe("confirmed by the user with 'credagent approve' from pid 77 (/usr/bin/credagent) on /dev/pts/3");
  const denied = b.confirm("db", { ...requester, exe: "/usr/bin/python3" });
  b.answer(b.list()[0]!.id, false, { kind: "terminal", pid: 78, exe: null, terminal: null });
  expect((await denied).reason).toContain("denied with 'credagent approve' from pid 78 on an unknown terminal");

  const desktop = new ConfirmationBroker({
    timeoutMs: 60_000,
    clock,
    log: createLogger(() => {}, "info"),
    desktopPrompt: async () => ({ approved: true, tool: "zenity" }),
  });
  expect((await desktop.confirm("db", requester)).reason).toBe("confirmed by the user at the desktop prompt (zenity)");
});

const limits = { perCredential: 2, total: 3, waitersPerQuestion: 4 };
function limited(clock: FakeClock) {
  return new ConfirmationBroker({ timeoutMs: 60_000, clock, log: createLogger(() => {}, "info"), limits, desktopPrompt: async () => null });
}
const program = (exe: string): Requester => ({ ...requester, exe });

test("questions are capped per credential and overall: the rest are answered 429 at once, with Retry-After when the oldest times out", async () => {
  const clock = new FakeClock();
  const b = limited(clock);
  const waiting = [b.confirm("db", program("/a")), b.confirm("db", program("/b"))];
  await clock.advance(10_000);
  // A third program about db: refused at once, not after the minute a question waits.
  const third = await b.confirm("db", program("/c")).catch((e) => e);
  expect(third).toMatchObject({ code: "too_many_requests", status: 429, retryAfterMs: 50_000 });
  expect(third.message).toContain("'credagent approve' lists them");
  // Another credential still gets its question, until the total is reached.
  const other = b.confirm("api", program("/a"));
  expect(await b.confirm("web", program("/z")).catch((e) => e.code)).toBe("too_many_requests");
  expect(b.list().map((p) => `${p.credential} ${p.exe}`)).toEqual(["db /a", "db /b", "api /a"]);
  // Once the first ones time out, there is room again.
  await clock.advance(50_000);
  expect((await Promise.all(waiting)).map((r) => r.approved)).toEqual([false, false]);
  void b.confirm("db", program("/c"));
  expect(b.list().map((p) => p.exe)).toContain("/c");
  b.forget();
  expect((await other).reason).toContain("denied by the lock");
});

test("requests waiting on one question are capped: the same program on many connections gets 429 beyond it", async () => {
  const clock = new FakeClock();
  const b = limited(clock);
  const waiting = Array.from({ length: 4 }, () => b.confirm("db", program("/a")));
  expect(b.list().length).toBe(1);
  const fifth = await b.confirm("db", program("/a")).catch((e) => e);
  expect(fifth.code).toBe("too_many_requests");
  expect(fifth.message).toContain("4 requests of /a already wait");
  b.answer(b.list()[0]!.id, true, { kind: "terminal", pid: 1, exe: null, terminal: "/dev/pts/0" });
  expect((await Promise.all(waiting)).every((r) => r.approved)).toBe(true);
  // Answered: remembered, nothing waits any more.
  expect((await b.confirm("db", program("/a"))).approved).toBe(true);
});
