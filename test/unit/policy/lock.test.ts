import { expect, test } from "bun:test";
import { AgentLock } from "../../../src/policy/lock.ts";
import { CredagentError } from "../../../src/errors.ts";
import { Secret } from "../../../src/secret.ts";
import { FakeClock } from "../../support/fake-clock.ts";

/** A lock whose hash checks finish only when the test says (held) or at once (not held). */
function setup() {
  const clock = new FakeClock();
  const events: string[] = [];
  const held: Array<() => void> = [];
  const state = { hold: false, verified: 0 };
  const lock = new AgentLock({
    hash: async (p) => `h(${p})`,
    verify: async (p, h) => {
      state.verified += 1;
      if (state.hold) await new Promise<void>((resolve) => held.push(resolve));
      return h === `h(${p})`;
    },
    now: () => clock.now(),
    onLock: () => void events.push("lock"),
    onUnlock: async () => void events.push("unlock"),
  });
  const release = () => held.splice(0).forEach((resolve) => resolve());
  return { clock, events, lock, state, release };
}

async function refusal(attempt: Promise<unknown>): Promise<CredagentError> {
  try {
    await attempt;
  } catch (err) {
    if (err instanceof CredagentError) return err;
    throw err;
  }
  throw new Error("the attempt was not refused");
}

test("a failure sets a not-before time of 0.1 s a failure, capped at 10 s; attempts before it are refused at once, unchecked", async () => {
  const { clock, lock, state } = setup();
  await lock.lock(new Secret("right"));

  expect((await refusal(lock.unlock(new Secret("wrong")))).code).toBe("forbidden");
  const early = await refusal(lock.unlock(new Secret("right")));
  expect(early.code).toBe("too_many_attempts");
  expect(early.status).toBe(429);
  expect(early.retryAfterMs).toBe(100);
  expect(early.message).toContain("try again in 0.1 s");
  expect(state.verified).toBe(1);

  for (let failures = 2; failures <= 120; failures++) {
    await clock.advance(10_000);
    expect((await refusal(lock.unlock(new Secret("wrong")))).code).toBe("forbidden");
    const next = await refusal(lock.unlock(new Secret("wrong")));
    expect(next.retryAfterMs).toBe(Math.min(failures * 100, 10_000));
  }
  expect(state.verified).toBe(120);

  await clock.advance(9_999);
  expect((await refusal(lock.unlock(new Secret("right")))).retryAfterMs).toBe(1);
  await clock.advance(1);
  await lock.unlock(new Secret("right"));
  expect(lock.locked).toBe(false);
});

test("while one attempt is being checked, others are refused at once instead of queued", async () => {
  const { events, lock, state, release } = setup();
  await lock.lock(new Secret("right"));
  state.hold = true;
  const first = lock.unlock(new Secret("wrong"));
  const others = await Promise.all(Array.from({ length: 40 }, () => refusal(lock.unlock(new Secret("wrong")))));
  expect(others.every((e) => e.code === "too_many_attempts" && e.message.includes("being checked"))).toBe(true);
  expect(state.verified).toBe(1);
  release();
  expect((await refusal(first)).code).toBe("forbidden");

  // The checking slot is free again once the backoff passed; a right passphrase unlocks.
  state.hold = false;
  expect(lock.locked).toBe(true);
  expect(events).toEqual(["lock"]);
});

test("success resets the failures; lock and unlock refuse what makes no sense", async () => {
  const { clock, events, lock } = setup();
  await lock.lock(new Secret("right"));
  await refusal(lock.unlock(new Secret("wrong")));
  await clock.advance(100);
  await lock.unlock(new Secret("right"));
  expect(events).toEqual(["lock", "unlock"]);

  await lock.lock(new Secret("next"));
  // No backoff carried over from before the lock.
  await lock.unlock(new Secret("next"));
  expect((await refusal(lock.unlock(new Secret("x")))).message).toContain("not locked");
  expect((await refusal(lock.lock(new Secret("")))).message).toContain("empty");
});
