import { expect, test } from "bun:test";
import { AgentLock } from "../../src/agent/lock.ts";
import { Secret } from "../../src/secret.ts";

test("failed unlocks back off by 0.1 s each, capped at 10 s, and reset on success", async () => {
  const sleeps: number[] = [];
  const events: string[] = [];
  const lock = new AgentLock({
    hash: async (p) => `h(${p})`,
    verify: async (p, h) => h === `h(${p})`,
    sleep: async (ms) => void sleeps.push(ms),
    onLock: () => void events.push("lock"),
    onUnlock: async () => void events.push("unlock"),
  });
  await lock.lock(new Secret("right"));
  expect(lock.locked).toBe(true);
  for (let i = 0; i < 120; i++) await expect(lock.unlock(new Secret("wrong"))).rejects.toThrow("wrong passphrase");
  expect(sleeps.slice(0, 3)).toEqual([100, 200, 300]);
  expect(Math.max(...sleeps)).toBe(10_000);
  await lock.unlock(new Secret("right"));
  expect(lock.locked).toBe(false);
  expect(events).toEqual(["lock", "unlock"]);
  await lock.lock(new Secret("next"));
  await lock.unlock(new Secret("next"));
  expect(sleeps.length).toBe(120);
  await expect(lock.unlock(new Secret("x"))).rejects.toThrow("not locked");
  await expect(lock.lock(new Secret(""))).rejects.toThrow("empty");
});
