import { describe, expect, test } from "bun:test";
import { CredagentError } from "../../../src/errors.ts";
import { ManagedCredential } from "../../../src/refresh/credential.ts";
import { Secret } from "../../../src/secret.ts";
import { DEFAULT_POLICY, type RefreshPolicy } from "../../../src/refresh/policy.ts";
import { FakeClock, settle } from "../../support/fake-clock.ts";
import { FakeSource } from "../../support/fake-source.ts";

const HOUR = 3_600_000;

/** mulberry32: a repeatable stream, so the spread test cannot flake. */
function seededRandom(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function setup(policy: Partial<RefreshPolicy> = {}, random = () => 0.5) {
  const clock = new FakeClock();
  const source = new FakeSource(clock);
  const credential = new ManagedCredential("db", source, { ...DEFAULT_POLICY, ...policy }, { clock, random });
  return { clock, source, credential };
}

async function expectUnavailable(p: Promise<unknown>, pattern?: RegExp): Promise<CredagentError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(CredagentError);
    expect((err as CredagentError).code).toBe("unavailable");
    if (pattern) expect((err as Error).message).toMatch(pattern);
    return err as CredagentError;
  }
  throw new Error("expected the call to fail with unavailable");
}

describe("ManagedCredential", () => {
  test("serves from memory while valid: one fetch for many requests", async () => {
    const { clock, source, credential } = setup();
    const first = await credential.get();
    for (let i = 0; i < 50; i++) {
      await clock.advance(60_000 / 50);
      expect((await credential.get()).value.reveal()).toBe(first.value.reveal());
    }
    expect(source.calls).toBe(1);
    expect(credential.snapshot().state).toBe("fresh");
  });

  test("concurrent requests during a fetch share it", async () => {
    const { clock, source, credential } = setup();
    source.delayMs = 1_000;
    const all = Promise.all(Array.from({ length: 20 }, () => credential.get()));
    await settle();
    expect(credential.snapshot().state).toBe("refreshing");
    await clock.advance(1_000);
    const tokens = await all;
    expect(source.calls).toBe(1);
    expect(new Set(tokens.map((t) => t.value.reveal())).size).toBe(1);
  });

  test("refreshes ahead of expiry, at 80% of the lifetime less jitter", async () => {
    const { clock, source, credential } = setup({}, () => 0);
    await credential.get();
    await clock.advance(0.8 * HOUR - 1);
    expect(source.calls).toBe(1);
    await clock.advance(1);
    expect(source.calls).toBe(2);
    expect((await credential.get()).value.reveal()).toBe("token-2");
  });

  test("refresh_before is honoured and capped at half the lifetime", async () => {
    const a = setup({ refreshBeforeMs: 5 * 60_000 }, () => 0);
    await a.credential.get();
    await a.clock.advance(HOUR - 5 * 60_000);
    expect(a.source.calls).toBe(2);

    const b = setup({ refreshBeforeMs: 10 * HOUR }, () => 0);
    await b.credential.get();
    await b.clock.advance(HOUR / 2 - 1);
    expect(b.source.calls).toBe(1);
    await b.clock.advance(1);
    expect(b.source.calls).toBe(2);
  });

  test("jitter spreads the refresh of many credentials over minutes", async () => {
    const clock = new FakeClock();
    const random = seededRandom(42);
    const refreshTimes: number[] = [];
    const creds = Array.from({ length: 200 }, (_, i) => {
      const source = new FakeSource(clock);
      return new ManagedCredential(`c${i}`, source, DEFAULT_POLICY, {
        clock,
        random,
        onEvent: (e) => {
          if (e.kind === "fetched") refreshTimes.push(e.refreshAt);
        },
      });
    });
    await Promise.all(creds.map((c) => c.get()));
    const perSecond = new Map<number, number>();
    for (const t of refreshTimes) perSecond.set(Math.floor(t / 1000), (perSecond.get(Math.floor(t / 1000)) ?? 0) + 1);
    expect(perSecond.size).toBeGreaterThan(100);
    expect(Math.max(...perSecond.values())).toBeLessThanOrEqual(8);
    const spread = Math.max(...refreshTimes) - Math.min(...refreshTimes);
    expect(spread).toBeGreaterThan(4 * 60_000);
    for (const t of refreshTimes) expect(t).toBeLessThanOrEqual(clock.now() + 0.8 * HOUR);
  });

  test("never serves an expired token across many lifetimes", async () => {
    const { clock, source, credential } = setup({}, Math.random);
    source.lifetimeMs = 10_000;
    for (let i = 0; i < 600; i++) {
      const token = await credential.get();
      expect(token.expiresAt).toBeGreaterThan(clock.now());
      await clock.advance(500);
    }
    // 300 s of 10 s tokens refreshed at 70-80%: about 38 fetches, never one per request.
    expect(source.calls).toBeGreaterThan(30);
    expect(source.calls).toBeLessThan(50);
  });

  test("a failing refresh keeps serving the last valid token, backs off, then recovers", async () => {
    const { clock, source, credential } = setup({}, () => 0.5);
    const first = (await credential.get()).value.reveal();
    source.failWith = new Error("identity provider down");
    await clock.advance(0.8 * HOUR - 0.05 * HOUR);
    const callsAtFirstFailure = source.calls;
    expect(callsAtFirstFailure).toBe(2);
    expect(credential.snapshot().state).toBe("stale");
    expect(credential.snapshot().lastError).toBe("identity provider down");
    expect((await credential.get()).value.reveal()).toBe(first);
    // Retries back off exponentially: 1s, 2s, 4s, ... capped at 120s; not a tight loop.
    await clock.advance(10 * 60_000);
    const retries = source.calls - callsAtFirstFailure;
    expect(retries).toBeGreaterThan(5);
    expect(retries).toBeLessThan(15);
    source.failWith = undefined;
    await clock.advance(DEFAULT_POLICY.backoffMaxMs * 1.2);
    expect(credential.snapshot().state).toBe("fresh");
    expect((await credential.get()).value.reveal()).not.toBe(first);
  });

  test("once the last token expires with the source down, requests get 503 with the reason", async () => {
    const { clock, source, credential } = setup();
    source.lifetimeMs = 60_000;
    await credential.get();
    source.failWith = new Error("connection refused");
    await clock.advance(61_000);
    expect(credential.snapshot().state).toBe("failing");
    await expectUnavailable(credential.get(), /connection refused/);
  });

  test("during the backoff after a failure, requests fail fast instead of hammering the source", async () => {
    const { clock, source, credential } = setup();
    source.failWith = new Error("boom");
    await expectUnavailable(credential.get(), /boom/);
    const calls = source.calls;
    await expectUnavailable(credential.get(), /retrying in/);
    expect(source.calls).toBe(calls);
    await clock.advance(2_000);
    expect(source.calls).toBe(calls + 1);
  });

  test("a request waits for a slow source only for requestWaitMs", async () => {
    const { clock, source, credential } = setup({ requestWaitMs: 2_000, fetchTimeoutMs: 10_000 });
    source.delayMs = 5_000;
    const pending = credential.get();
    const outcome = expectUnavailable(pending, /still waiting/);
    await clock.advance(2_000);
    await outcome;
    await clock.advance(3_000);
    expect(credential.snapshot().state).toBe("fresh");
  });

  test("a source that never answers is aborted after fetchTimeoutMs", async () => {
    const { clock, source, credential } = setup({ requestWaitMs: 60_000, fetchTimeoutMs: 3_000 });
    source.delayMs = 1_000_000;
    const outcome = expectUnavailable(credential.get(), /did not answer within 3s/);
    await clock.advance(3_000);
    await outcome;
    expect(credential.snapshot().state).toBe("failing");
  });

  test("min_valid refreshes a token that would expire too soon, and only then", async () => {
    const { clock, source, credential } = setup({ refreshBeforeMs: 60_000 }, () => 0);
    await credential.get();
    await clock.advance(50 * 60_000);
    expect(source.calls).toBe(1);
    const enough = await credential.get(5 * 60_000);
    expect(enough.value.reveal()).toBe("token-1");
    expect(source.calls).toBe(1);
    const longer = await credential.get(15 * 60_000);
    expect(source.calls).toBe(2);
    expect(longer.value.reveal()).toBe("token-2");
    expect(longer.expiresAt - clock.now()).toBeGreaterThanOrEqual(15 * 60_000);
  });

  test("min_valid longer than the source's lifetime is a clear 503", async () => {
    const { source, credential } = setup();
    source.lifetimeMs = 5 * 60_000;
    await expectUnavailable(credential.get(10 * 60_000), /less than the 10m00s asked for/);
  });

  test("a forced refresh that fails while a token is still valid says so: how long it stays valid, why, never 'run refresh'", async () => {
    const { clock, source, credential } = setup({}, () => 0.5);
    source.lifetimeMs = 60_000;
    await credential.get();
    source.failWith = new Error("identity provider down");
    await clock.advance(60_000 - 36_000);
    const err = await expectUnavailable(credential.refresh());
    expect(err.message).toMatch(
      /^the refresh of 'db' failed: identity provider down; the token it holds is still valid for 3\ds and is served until then/,
    );
    expect(err.message).toMatch(/the agent retries in \d+s/);
    expect(err.message).not.toContain("credagent refresh");
    expect(credential.snapshot().state).toBe("stale");
    // With no valid token left: no token, why, and when the agent tries again; still no 'run refresh'.
    await clock.advance(40_000);
    const none = await expectUnavailable(credential.refresh());
    expect(none.message).toMatch(/^credential 'db' has no valid token: identity provider down/);
    expect(none.message).not.toContain("credagent refresh");
    // A request (not a refresh) is still told how to try at once.
    source.failWith = new Error("still down");
    const viaGet = await expectUnavailable(credential.get());
    expect(viaGet.message).toContain("'credagent refresh db' tries at once");
  });

  test("refresh() fetches even while the token is valid", async () => {
    const { source, credential } = setup();
    await credential.get();
    const next = await credential.refresh();
    expect(source.calls).toBe(2);
    expect(next.value.reveal()).toBe("token-2");
  });

  const { forcedRefreshBurst: BURST, forcedRefreshIntervalMs: INTERVAL } = DEFAULT_POLICY;

  test("forced refreshes in a loop run the source a few times, then once per interval; meanwhile the token just fetched is the answer", async () => {
    const { clock, source, credential } = setup();
    await credential.get();
    // A client refreshing every 10 ms for 10 s: five at once, then one at 5 s; not 1,000.
    const answers = new Set<string>();
    for (let i = 0; i < 1_000; i++) {
      answers.add((await credential.refresh()).value.reveal());
      await clock.advance(10);
    }
    expect(source.calls).toBe(1 + BURST + Math.floor((10_000 - BURST * 10) / INTERVAL));
    expect(answers.size).toBe(source.calls - 1);
    // A person asking again a while later is not held back.
    await clock.advance(BURST * INTERVAL);
    const before = source.calls;
    for (let i = 0; i < BURST; i++) await credential.refresh();
    expect(source.calls).toBe(before + BURST);
  });

  test("concurrent forced refreshes share one fetch", async () => {
    const { clock, source, credential } = setup();
    await credential.get();
    source.delayMs = 500;
    const all = Promise.all(Array.from({ length: 50 }, () => credential.refresh()));
    await clock.advance(500);
    expect(new Set((await all).map((t) => t.value.reveal()))).toEqual(new Set(["token-2"]));
    expect(source.calls).toBe(2);
  });

  /** Forced refreshes that fail until the bucket is empty (no background retry: a minute's backoff). */
  async function exhausted(policy: Partial<RefreshPolicy> = {}) {
    const ctx = setup({ backoffBaseMs: 60_000, ...policy });
    ctx.source.failWith = new Error("down");
    for (let i = 0; i < BURST; i++) await ctx.credential.refresh().catch(() => {});
    expect(ctx.source.calls).toBe(BURST);
    ctx.source.failWith = undefined;
    return ctx;
  }

  test("past the bucket after failures, forced refreshes wait for the next slot and share one fetch there", async () => {
    const { clock, source, credential } = await exhausted();
    let settled = 0;
    const waiting = Array.from({ length: 20 }, () =>
      credential.refresh().then((t) => {
        settled += 1;
        return t;
      }),
    );
    await clock.advance(INTERVAL - 1);
    expect(settled).toBe(0);
    expect(source.calls).toBe(BURST);
    await clock.advance(1);
    expect(new Set((await Promise.all(waiting)).map((t) => t.value.reveal()))).toEqual(new Set([`token-${BURST + 1}`]));
    expect(source.calls).toBe(BURST + 1);
  });

  test("a fetch of its own during the wait (a request's) answers the waiting forced refreshes", async () => {
    const { clock, source, credential } = await exhausted({ retryFloorMs: 1_000 });
    const waiting = credential.refresh();
    await clock.advance(1_000);
    // A plain request past the retry floor fetches at 1 s; at the slot the forced refresh takes its token.
    const got = await credential.get();
    expect(source.calls).toBe(BURST + 1);
    await clock.advance(INTERVAL);
    expect((await waiting).value.reveal()).toBe(got.value.reveal());
    expect(source.calls).toBe(BURST + 1);
  });

  test("refetch() (a changed secret) is not spaced: it fetches at once", async () => {
    const { source, credential } = setup();
    await credential.get();
    expect((await credential.refetch()).value.reveal()).toBe("token-2");
    expect(source.calls).toBe(2);
  });

  // The refresh e2e test in exact form: 2 s tokens, a request every 50 ms for 7 s. Real time there
  // (process start-up, a random jitter) only allows bounds; here every fetch has its instant.
  for (const [random, every] of [
    [0, 1600],
    [0.5, 1500],
    [0.999, 1400],
  ] as const) {
    test(`2 s tokens asked for every 50 ms: fetched every ${every} ms with jitter ${random}, each served, none expired`, async () => {
      const clock = new FakeClock();
      const start = clock.now();
      const source = new FakeSource(clock);
      source.lifetimeMs = 2_000;
      const fetchedAt: number[] = [];
      const credential = new ManagedCredential("short", source, DEFAULT_POLICY, {
        clock,
        random: () => random,
        onEvent: (e) => {
          if (e.kind === "fetched") fetchedAt.push(e.token.obtainedAt - start);
        },
      });
      const served: string[] = [];
      for (let t = 0; t < 7_000; t += 50) {
        const token = await credential.get();
        expect(token.expiresAt).toBeGreaterThan(clock.now());
        if (served.at(-1) !== token.value.reveal()) served.push(token.value.reveal());
        if (t + 50 < 7_000) await clock.advance(50);
      }
      // The last request is at 6950 ms.
      const expected = Array.from({ length: Math.floor(6_950 / every) + 1 }, (_, i) => i * every);
      expect(fetchedAt).toEqual(expected);
      expect(served).toEqual(expected.map((_, i) => `token-${i + 1}`));
      expect(source.calls).toBe(expected.length);
    });
  }

  test("an unused credential is not refreshed in the background", async () => {
    const { clock, source, credential } = setup();
    expect(credential.snapshot().state).toBe("not_loaded");
    await clock.advance(10 * HOUR);
    expect(source.calls).toBe(0);
  });

  test("stop() cancels timers and fails further requests", async () => {
    const { clock, source, credential } = setup();
    await credential.get();
    credential.stop();
    await clock.advance(2 * HOUR);
    expect(source.calls).toBe(1);
    expect(clock.pendingTimers).toBe(0);
    await expectUnavailable(credential.refresh(), /stopping/);
  });

  test("a token that arrives already expired is a failure, not served", async () => {
    const { source, credential } = setup();
    source.lifetimeMs = -1;
    await expectUnavailable(credential.get(), /already expired/);
  });

  test("login_required: no background retries, and requests fail at once without calling the source", async () => {
    const { clock, source, credential } = setup();
    source.lifetimeMs = 60_000;
    await credential.get();
    source.failWith = new CredagentError("login_required", "refresh token revoked; run credagent login db");
    await clock.advance(50_000);
    const calls = source.calls;
    expect(credential.snapshot().state).toBe("login_required");
    // The token in hand is still served until it expires.
    expect((await credential.get()).value.reveal()).toBe("token-1");
    await clock.advance(60 * 60_000);
    expect(source.calls).toBe(calls);
    let caught: unknown;
    try {
      await credential.get();
    } catch (err) {
      caught = err;
    }
    expect((caught as CredagentError).code).toBe("login_required");
    expect(source.calls).toBe(calls);
  });
});

describe("AWS keys and the SDKs' refresh window (aws_refresh_window)", () => {
  const WINDOW = DEFAULT_POLICY.awsRefreshWindowMs;

  test("an hour's key is renewed before its last 15 minutes, whatever the jitter, and never served inside them", async () => {
    for (const r of [0, 0.5, 0.999]) {
      const { clock, source, credential } = setup({}, () => r);
      source.tokenKind = "aws";
      const first = await credential.get();
      const at = credential.snapshot().refreshAt!;
      expect(at).toBeLessThanOrEqual(first.expiresAt - WINDOW);
      // Not much earlier than that either: the jitter stays within 10% of the time it is served.
      expect(at).toBeGreaterThanOrEqual(first.expiresAt - WINDOW - 0.1 * (HOUR - WINDOW) - 1);
      await clock.advance(at - clock.now() + 1);
      expect(source.calls).toBe(2);
      expect((await credential.get()).aws?.accessKeyId).toBe("key-2");
    }
  });

  test("a held key inside the window is not served even when its renewal failed: the next request gets a new one", async () => {
    const { clock, source, credential } = setup({}, () => 0.5);
    source.tokenKind = "aws";
    const first = await credential.get();
    // The renewals fail until 14 minutes before the first key expires; then a request comes.
    source.failWith = new Error("not now");
    await clock.advance(HOUR - 14 * 60_000 - (clock.now() - first.obtainedAt));
    source.failWith = undefined;
    const next = await credential.get();
    expect(next.aws?.accessKeyId).not.toBe(first.aws?.accessKeyId);
    expect(next.expiresAt - clock.now()).toBeGreaterThan(WINDOW);
  });

  test("a key that lives just past the window is renewed before the window starts", async () => {
    const { clock, source, credential } = setup({}, () => 0.999);
    source.tokenKind = "aws";
    source.lifetimeMs = WINDOW + 20_000;
    const first = await credential.get();
    const at = credential.snapshot().refreshAt!;
    expect(at).toBeGreaterThanOrEqual(first.obtainedAt);
    expect(at).toBeLessThanOrEqual(first.expiresAt - WINDOW);
    // 20 requests over its served life: one fetch for the key, one renewal.
    for (let i = 0; i < 20; i++) {
      await clock.advance(1_000);
      expect((await credential.get()).expiresAt - clock.now()).toBeGreaterThan(WINDOW);
    }
    expect(source.calls).toBe(2);
    expect(credential.snapshot().note).toBeNull();
  });

  test("a key shorter-lived than the window is served whole, and the credential's note says what that costs", async () => {
    const { clock, source, credential } = setup();
    source.tokenKind = "aws";
    source.lifetimeMs = 10 * 60_000;
    const first = await credential.get();
    await clock.advance(60_000);
    expect((await credential.get()).value.reveal()).toBe(first.value.reveal());
    expect(source.calls).toBe(1);
    expect(credential.snapshot().note).toContain("its AWS keys live 10m00s, no longer than the 15m00s");
  });

  test("other tokens keep the usual schedule, and aws_refresh_window = 0s turns the window off", async () => {
    const bearer = setup({}, () => 0);
    const t = await bearer.credential.get();
    expect(bearer.credential.snapshot().refreshAt).toBe(t.expiresAt - 0.2 * HOUR);
    const off = setup({ awsRefreshWindowMs: 0 }, () => 0);
    off.source.tokenKind = "aws";
    const k = await off.credential.get();
    expect(off.credential.snapshot().refreshAt).toBe(k.expiresAt - 0.2 * HOUR);
  });
});

describe("tokens are zeroed when no longer held", () => {
  test("a replaced token is zeroed after a moment, an expired one at expiry, every one at forget()", async () => {
    const { clock, source, credential } = setup({}, () => 0.5);
    source.lifetimeMs = 60_000;
    const first = await credential.get();
    const second = await credential.refetch();
    expect(first.value.wiped).toBe(false);
    await clock.advance(1_000);
    expect(first.value.wiped).toBe(true);
    expect(second.value.wiped).toBe(false);
    // The source is down: the refresh fails, and the token is zeroed when it expires.
    source.failWith = new Error("down");
    await clock.advance(60_000);
    expect(second.value.wiped).toBe(true);
    expect(credential.snapshot().expiresAt).toBeNull();
    source.failWith = undefined;
    await clock.advance(DEFAULT_POLICY.backoffMaxMs * 1.2);
    const third = await credential.get();
    credential.forget();
    expect(third.value.wiped).toBe(true);
    expect(() => third.value.reveal()).toThrow("dropped from memory");
  });
});

describe("ManagedCredential: a cached token on its way from the store", () => {
  const cached = (clock: FakeClock, value = "cached") => ({
    value: new Secret(value),
    tokenType: "Bearer",
    obtainedAt: clock.now(),
    expiresAt: clock.now() + HOUR,
  });
  /** A read that the test ends: with a token, none, or a failure. */
  function pendingRead() {
    let settle!: (token: ReturnType<typeof cached> | null) => void;
    let fail!: (err: Error) => void;
    const reading = new Promise<ReturnType<typeof cached> | null>((resolve, reject) => {
      settle = resolve;
      fail = reject;
    });
    return { reading, settle, fail };
  }

  test("a request waits for it and is served it, with no fetch", async () => {
    const { clock, source, credential } = setup();
    const read = pendingRead();
    const restored = credential.restore(read.reading);
    let served: string | undefined;
    const request = credential.get().then((t) => (served = t.value.reveal()));
    await settle();
    expect(served).toBeUndefined();
    read.settle(cached(clock));
    await request;
    expect(served).toBe("cached");
    expect(await restored).toBe(true);
    expect(source.calls).toBe(0);
    expect(credential.snapshot().state).toBe("fresh");
  });

  test("a restored token is announced (the kept files written without it are written again)", async () => {
    const clock = new FakeClock();
    const events: string[] = [];
    const credential = new ManagedCredential("db", new FakeSource(clock), DEFAULT_POLICY, {
      clock,
      random: () => 0.5,
      onEvent: (e) => events.push(`${e.kind} ${e.name}`),
    });
    await credential.restore(Promise.resolve(cached(clock)));
    await credential.restore(Promise.resolve(null));
    expect(events).toEqual(["restored db"]);
  });

  test("no entry, or a store that fails: the waiting request fetches, once", async () => {
    for (const end of ["none", "fail"] as const) {
      const { clock, source, credential } = setup();
      const read = pendingRead();
      credential.restore(read.reading);
      const requests = Promise.all([credential.get(), credential.get()]);
      await settle();
      expect(source.calls).toBe(0);
      if (end === "none") read.settle(null);
      else read.fail(new Error("the keyring is locked"));
      const tokens = await requests;
      expect(tokens.map((t) => t.value.reveal())).toEqual(["token-1", "token-1"]);
      expect(source.calls).toBe(1);
      void clock;
    }
  });

  test("a lock, a stop or a fetched token while it is read: it is not held, and zeroed", async () => {
    for (const meanwhile of ["lock", "stop", "refresh"] as const) {
      const { clock, credential } = setup();
      const read = pendingRead();
      const restored = credential.restore(read.reading);
      if (meanwhile === "lock") credential.forget();
      else if (meanwhile === "stop") credential.stop();
      else await credential.refresh();
      const token = cached(clock);
      read.settle(token);
      expect({ meanwhile, held: await restored }).toEqual({ meanwhile, held: false });
      expect(token.value.wiped).toBe(true);
      if (meanwhile === "refresh") expect((await credential.get()).value.reveal()).toBe("token-1");
      else expect(credential.current()).toBeUndefined();
    }
  });
});
