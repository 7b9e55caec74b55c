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
  expect(settled?.reason).toContain("denied or unanswered");
  expect(b.list()).toEqual([]);
  expect(lines.join("\n")).toContain(`how="credagent approve ${lines.join("").match(/id=(\w+)/)?.[1]}"`);
});

test("a yes before the timeout approves the pair for the session, and cancels the timer", async () => {
  const clock = new FakeClock();
  const { b } = broker(clock);
  const asked = b.confirm("db", requester);
  const [pending] = b.list();
  b.answer(pending!.id, true);
  expect((await asked).approved).toBe(true);
  expect(clock.pendingTimers).toBe(0);
  // Remembered: no second question.
  expect(await b.confirm("db", requester)).toEqual({ approved: true, reason: "confirmed earlier by the user" });
  expect(b.list()).toEqual([]);
});
