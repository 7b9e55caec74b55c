import { expect, test } from "bun:test";
import { FloodGuard } from "../../../src/log/flood.ts";
import { createLogger } from "../../../src/log/log.ts";
import { FakeClock } from "../../support/fake-clock.ts";

function guarded(clock: FakeClock) {
  const lines: string[] = [];
  const guard = new FloodGuard({ now: () => clock.now(), later: (fn, ms) => clock.setTimeout(fn, ms) });
  const log = createLogger(
    (l) => lines.push(l),
    "info",
    () => clock.now(),
    7,
    guard,
  );
  return { lines, guard, log };
}

test("a flood of one kind of line is 20 lines and one count a window; other kinds and other uids are written as before", async () => {
  const clock = new FakeClock();
  const { lines, log } = guarded(clock);
  for (let pid = 0; pid < 30_000; pid++) log.warn("connection from another user refused", { pid, uid: 1001 });
  log.warn("connection from another user refused", { pid: 1, uid: 1002 });
  log.info("token obtained", { credential: "db" });
  expect(lines.length).toBe(22);
  expect(lines[20]).toContain("uid=1002");
  expect(lines[21]).toContain("token obtained");
  await clock.advance(10_000);
  expect(lines.length).toBe(23);
  expect(lines[22]).toBe(
    "2026-01-01T00:00:10.000Z [7] WARN connection from another user refused (29980 more like this in 10s were not logged; the last:) pid=29999 uid=1001\n",
  );
  // A new window: written again.
  log.warn("connection from another user refused", { pid: 5, uid: 1001 });
  expect(lines.length).toBe(24);
});

test("lines of one message about different credentials are different kinds", () => {
  const clock = new FakeClock();
  const { lines, log } = guarded(clock);
  for (let i = 0; i < 100; i++) log.info("token obtained", { credential: `c${i}` });
  expect(lines.length).toBe(100);
});

test("more kinds than tracked share one budget; a flush at stop tells every count held", () => {
  const clock = new FakeClock();
  const { lines, log, guard } = guarded(clock);
  for (let i = 0; i < 2_000; i++) log.warn(`message ${i}`);
  expect(lines.length).toBe(512 + 20);
  guard.flush();
  expect(lines.length).toBe(512 + 21);
  expect(lines.at(-1)).toContain("message 1999 (1468 more like this");
});

test("below the level nothing is counted", async () => {
  const clock = new FakeClock();
  const lines: string[] = [];
  const guard = new FloodGuard({ now: () => clock.now(), later: (fn, ms) => clock.setTimeout(fn, ms) });
  const log = createLogger(
    (l) => lines.push(l),
    "warn",
    () => clock.now(),
    7,
    guard,
  );
  for (let i = 0; i < 100; i++) log.info("chatter");
  await clock.advance(10_000);
  expect(lines).toEqual([]);
});
