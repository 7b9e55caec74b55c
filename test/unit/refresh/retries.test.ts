import { describe, expect, test } from "bun:test";
import { CredagentError } from "../../../src/errors.ts";
import { ManagedCredential, type CredentialEvent } from "../../../src/refresh/credential.ts";
import { DEFAULT_POLICY, type RefreshPolicy } from "../../../src/refresh/policy.ts";
import { CredentialRegistry, type CredentialDefinition } from "../../../src/refresh/registry.ts";
import { CannotHealError } from "../../../src/sources/source.ts";
import { FakeClock, settle } from "../../support/fake-clock.ts";
import { FakeSource } from "../../support/fake-source.ts";

// Retries that help the user: a request past the backoff floor fetches, failures that cannot heal
// are not retried in the background, an unasked credential goes idle, a changed secret retries.

const HOUR = 3_600_000;
const MIN = 60_000;

function setup(policy: Partial<RefreshPolicy> = {}) {
  const clock = new FakeClock();
  const source = new FakeSource(clock);
  const events: CredentialEvent[] = [];
  // random 0.5: backoff exactly 1, 2, 4, 8 … s; refresh at 75% of the lifetime.
  const credential = new ManagedCredential(
    "db",
    source,
    { ...DEFAULT_POLICY, ...policy },
    { clock, random: () => 0.5, onEvent: (e) => events.push(e) },
  );
  return { clock, source, credential, events };
}

async function failure(p: Promise<unknown>): Promise<CredagentError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(CredagentError);
    return err as CredagentError;
  }
  throw new Error("expected the call to fail");
}

const missingSecret = () => new CannotHealError("source_failed", "no secret is stored for 'db'; set one with: credagent secret set db");

describe("a request during the backoff", () => {
  test("within the floor it fails fast, naming the retry and 'credagent refresh'; past the floor it fetches", async () => {
    const { clock, source, credential } = setup();
    source.failWith = new Error("identity provider down");
    await failure(credential.get());
    // Background retries at +1, +2, +4, +8, +16 s: the fifth failure is at 31 s, the next slot at 63 s.
    await clock.advance(31_000);
    expect(source.calls).toBe(6);
    source.failWith = undefined; // the provider is back

    await clock.advance(DEFAULT_POLICY.retryFloorMs - 1_000);
    const fast = await failure(credential.get());
    expect(fast.code).toBe("unavailable");
    expect(fast.message).toBe(
      "credential 'db' has no valid token: identity provider down (retrying in 28s; 'credagent refresh db' tries at once)",
    );
    expect(source.calls).toBe(6);

    await clock.advance(1_000);
    expect((await credential.get()).value.reveal()).toBe("token-7");
    expect(source.calls).toBe(7);
    expect(credential.snapshot().state).toBe("fresh");
  });

  test("a request that meets the failure itself hears of the backoff and of 'credagent refresh'", async () => {
    const { source, credential } = setup();
    source.failWith = new Error("connection refused");
    const err = await failure(credential.get());
    expect(err.message).toBe(
      "credential 'db' has no valid token: connection refused (retrying in 1s; 'credagent refresh db' tries at once)",
    );
  });

  test("refresh() fetches at once whatever the backoff", async () => {
    const { clock, source, credential } = setup();
    source.failWith = new Error("down");
    await failure(credential.get());
    await clock.advance(3_100);
    source.failWith = undefined;
    expect((await credential.refresh()).value.reveal()).toBe(`token-${source.calls}`);
  });
});

describe("failures that cannot heal by themselves", () => {
  test("are not retried in the background; the state says why and what to do", async () => {
    const { clock, source, credential, events } = setup();
    source.failWith = missingSecret();
    const err = await failure(credential.get());
    expect(err.message).toContain("set one with: credagent secret set db");
    await clock.advance(10 * HOUR);
    expect(source.calls).toBe(1);
    expect(clock.pendingTimers).toBe(0);
    const snap = credential.snapshot();
    expect(snap.state).toBe("failing");
    expect(snap.refreshAt).toBeNull();
    expect(snap.lastError).toContain("set one with: credagent secret set db");
    expect(snap.lastError).toContain("not retried on its own: a request, 'credagent refresh db', a changed secret or a reload tries again");
    expect(events.filter((e) => e.kind === "fetch_failed").map((e) => (e as { retryAt: number | null }).retryAt)).toEqual([null]);
  });

  test("a request tries again, but at most once per floor", async () => {
    const { clock, source, credential } = setup();
    source.failWith = missingSecret();
    await failure(credential.get());
    await clock.advance(DEFAULT_POLICY.retryFloorMs - 1);
    await failure(credential.get());
    expect(source.calls).toBe(1);
    await clock.advance(1);
    await failure(credential.get());
    expect(source.calls).toBe(2);
    source.failWith = undefined;
    await clock.advance(DEFAULT_POLICY.retryFloorMs);
    expect((await credential.get()).value.reveal()).toBe("token-3");
  });

  test("a failed refresh that cannot heal keeps serving the token it holds, with no background retries", async () => {
    const { clock, source, credential } = setup();
    await credential.get();
    source.failWith = new CannotHealError("source_failed", "invalid_client");
    await clock.advance(0.75 * HOUR);
    expect(source.calls).toBe(2);
    expect(credential.snapshot().state).toBe("stale");
    expect((await credential.get()).value.reveal()).toBe("token-1");
    await clock.advance(0.2 * HOUR);
    expect(source.calls).toBe(2);
  });

  test("a config error is one too; an ordinary failure is still retried", async () => {
    const config = setup();
    config.source.failWith = new CredagentError("config_invalid", "neither issuer nor token_endpoint");
    await failure(config.credential.get());
    await config.clock.advance(HOUR);
    expect(config.source.calls).toBe(1);

    const transient = setup();
    transient.source.failWith = new CredagentError("source_failed", "HTTP 503");
    await failure(transient.credential.get());
    await transient.clock.advance(HOUR);
    expect(transient.source.calls).toBeGreaterThan(25);
  });
});

describe("a credential nobody asks for goes idle", () => {
  test("after two lifetimes without a request it stops refreshing, and the next request fetches", async () => {
    const { clock, source, credential, events } = setup();
    await credential.get();
    // 1 h tokens, refreshed at 45 min: idle after 2 h unasked, so at the refresh due at 2 h 15.
    await clock.advance(10 * HOUR);
    expect(source.calls).toBe(3);
    expect(events.filter((e) => e.kind === "idle")).toEqual([{ kind: "idle", name: "db", lastAskedAt: clock.now() - 10 * HOUR }]);
    const snap = credential.snapshot();
    expect(snap.state).toBe("idle");
    expect(snap.refreshAt).toBeNull();
    expect(snap.expiresAt).toBeNull();
    expect(clock.pendingTimers).toBe(0);

    expect((await credential.get()).value.reveal()).toBe("token-4");
    expect(credential.snapshot().state).toBe("fresh");
    // Kept fresh again from that request on.
    await clock.advance(0.75 * HOUR);
    expect(source.calls).toBe(5);
  });

  test("woken while it still holds a token: served at once, renewed in the background", async () => {
    const { clock, source, credential } = setup();
    await credential.get();
    await clock.advance(2.25 * HOUR); // refreshed at 0:45 and 1:30; idle at 2:15
    expect(credential.snapshot().state).toBe("idle");
    const held = await credential.get();
    expect(held.value.reveal()).toBe("token-3");
    expect(source.calls).toBe(3);
    await clock.advance(0);
    expect(source.calls).toBe(4);
    expect(credential.snapshot().state).toBe("fresh");
  });

  test("short tokens: requests within the hour keep it fresh; an hour without one makes it idle", async () => {
    const { clock, source, credential } = setup();
    source.lifetimeMs = 5 * MIN;
    await credential.get();
    for (let i = 0; i < 3; i++) {
      await clock.advance(50 * MIN);
      await credential.get();
    }
    const busy = source.calls;
    // 150 min of 5 min tokens refreshed every 3 min 45 s: 40 refreshes, never idle.
    expect(busy).toBe(41);
    await clock.advance(10 * HOUR);
    // The refreshes within the hour after the last request (2:30): 15; the one due at 3:30 finds it idle.
    expect(source.calls).toBe(busy + 15);
    expect(credential.snapshot().state).toBe("idle");
  });

  test("a failing credential nobody asks for stops retrying too", async () => {
    const { clock, source, credential } = setup();
    source.failWith = new Error("down");
    await failure(credential.get());
    await clock.advance(HOUR + 2 * MIN);
    const calls = source.calls;
    expect(credential.snapshot().state).toBe("idle");
    await clock.advance(24 * HOUR);
    expect(source.calls).toBe(calls);
    source.failWith = undefined;
    expect((await credential.get()).value.reveal()).toBe(`token-${calls + 1}`);
  });

  test("the idle threshold is the policy's when longer than two lifetimes", async () => {
    const { clock, source, credential } = setup({ idleAfterMs: 5 * HOUR });
    await credential.get();
    await clock.advance(5 * HOUR - 1);
    expect(source.calls).toBe(7); // every 45 min, until 4:30
    await clock.advance(HOUR);
    expect(source.calls).toBe(7); // the one due at 5:15 found it idle
    expect(credential.snapshot().state).toBe("idle");
  });
});

describe("a changed secret retries the credentials that use it", () => {
  function registrySetup() {
    const clock = new FakeClock();
    const sources = new Map<string, FakeSource>();
    const def = (name: string, secrets: string[], fingerprint = "1"): CredentialDefinition => ({
      name,
      fingerprint,
      policy: DEFAULT_POLICY,
      prefetch: false,
      secrets,
      createSource: () => {
        const s = new FakeSource(clock);
        sources.set(name, s);
        return s;
      },
    });
    const registry = new CredentialRegistry({ clock, random: () => 0.5 });
    const defs = [def("db", ["db"]), def("api", ["api"]), def("cmd", [])];
    registry.apply(defs);
    return { clock, registry, source: (n: string) => sources.get(n)!, defs };
  }

  test("a failure that cannot heal: fetched at once, without waiting for a request", async () => {
    const { registry, source } = registrySetup();
    source("db").failWith = missingSecret();
    source("api").failWith = missingSecret();
    await failure(registry.get("db").get());
    await failure(registry.get("api").get());
    source("db").failWith = undefined;

    expect(registry.secretChanged("db")).toEqual(["db"]);
    await settle();
    expect(source("db").calls).toBe(2);
    expect(registry.get("db").snapshot().state).toBe("fresh");
    // No clock moved: the request gets the new token from memory, not after a floor or a backoff.
    expect((await registry.get("db").get()).value.reveal()).toBe("token-2");
    expect(source("api").calls).toBe(1);
  });

  test("a backoff is forgotten: the fetch comes now, not at the slot", async () => {
    const { clock, registry, source } = registrySetup();
    source("api").failWith = new CredagentError("source_failed", "HTTP 500");
    await failure(registry.get("api").get());
    await clock.advance(31_000); // next slot at 63 s
    const calls = source("api").calls;
    source("api").failWith = undefined;
    expect(registry.secretChanged("api")).toEqual(["api"]);
    await settle();
    expect(source("api").calls).toBe(calls + 1);
    expect(registry.get("api").snapshot().state).toBe("fresh");
  });

  test("nothing to retry: no fetch, and no name given back", async () => {
    const { registry, source } = registrySetup();
    await registry.get("db").get();
    await registry.get("cmd").get();
    expect(registry.secretChanged("db")).toEqual([]);
    expect(registry.secretChanged("cmd")).toEqual([]);
    expect(registry.secretChanged("nothing")).toEqual([]);
    await settle();
    expect(source("db").calls).toBe(1);
    expect(source("cmd").calls).toBe(1);
  });

  test("a reload retries a failure that cannot heal, of a credential it keeps", async () => {
    const { registry, source, defs } = registrySetup();
    source("cmd").failWith = new CannotHealError("source_failed", "could not run 'vault': ENOENT");
    await failure(registry.get("cmd").get());
    source("cmd").failWith = undefined;
    const result = registry.apply(defs);
    expect(result.kept).toEqual(["db", "api", "cmd"]);
    await settle();
    expect(source("cmd").calls).toBe(2);
    expect(registry.get("cmd").snapshot().state).toBe("fresh");
  });
});
