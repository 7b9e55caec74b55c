import { expect, test } from "bun:test";
import { pollUntil, raceTimeout, sleep, TIMED_OUT, within } from "../../../src/time/clock.ts";
import { FakeClock } from "../../support/fake-clock.ts";

test("within: the work's value, or TIMED_OUT at the deadline and not before; the timer is cancelled", async () => {
  const clock = new FakeClock();
  let resolve!: (v: string) => void;
  const work = new Promise<string>((r) => (resolve = r));
  const waiting = within(work, 1_000, clock);
  await clock.advance(999);
  resolve("done");
  expect(await waiting).toBe("done");
  expect(clock.pendingTimers).toBe(0);
  const late = within(new Promise(() => {}), 1_000, clock);
  await clock.advance(1_000);
  expect(await late).toBe(TIMED_OUT);
});

test("raceTimeout rejects with the caller's error at the deadline", async () => {
  const clock = new FakeClock();
  const racing = raceTimeout(new Promise(() => {}), 500, () => new Error("too slow"), clock).catch((err: Error) => err.message);
  await clock.advance(500);
  expect(await racing).toBe("too slow");
});

test("pollUntil asks until an answer, every interval, and gives up at the deadline with one last ask", async () => {
  const clock = new FakeClock();
  const asked: number[] = [];
  const start = clock.now();
  const polling = pollUntil(
    () => {
      asked.push(clock.now() - start);
      return asked.length === 4 ? "found" : null;
    },
    { timeoutMs: 10_000, intervalMs: 100, clock },
  );
  await clock.advance(1_000);
  expect(await polling).toBe("found");
  expect(asked).toEqual([0, 100, 200, 300]);

  const never: number[] = [];
  const t0 = clock.now();
  const giving = pollUntil(() => (never.push(clock.now() - t0), null), { timeoutMs: 250, intervalMs: 100, clock });
  await clock.advance(1_000);
  expect(await giving).toBeNull();
  expect(never).toEqual([0, 100, 200, 250]);
});

test("sleep waits on the clock given", async () => {
  const clock = new FakeClock();
  let done = false;
  void sleep(300, clock).then(() => (done = true));
  await clock.advance(299);
  expect(done).toBe(false);
  await clock.advance(1);
  expect(done).toBe(true);
});
