import { afterAll, expect, test } from "bun:test";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { join } from "node:path";
import { InstanceLock } from "../../../src/transport/lock.ts";

const dir = mkdtempSync("/tmp/ca-lock-");
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test("one holder at a time; an orderly stop removes the file while holding it; the next agent makes it again", () => {
  const path = join(dir, "cred.sock.lock");
  const first = InstanceLock.tryAcquire(path)!;
  expect(first).not.toBeNull();
  expect(InstanceLock.tryAcquire(path)).toBeNull();
  first.releaseAndRemove();
  expect(existsSync(path)).toBe(false);
  const second = InstanceLock.tryAcquire(path)!;
  expect(second).not.toBeNull();
  expect(InstanceLock.tryAcquire(path)).toBeNull();
  // A failed start releases without removing: nothing else is needed of it.
  second.release();
  expect(existsSync(path)).toBe(true);
  const third = InstanceLock.tryAcquire(path)!;
  expect(third).not.toBeNull();
  third.releaseAndRemove();
});
