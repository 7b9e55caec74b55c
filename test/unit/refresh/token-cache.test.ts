import { describe, expect, test } from "bun:test";
import { createLogger } from "../../../src/log/log.ts";
import { persistToken, restoreTokens } from "../../../src/refresh/token-cache.ts";
import { DEFAULT_POLICY } from "../../../src/refresh/policy.ts";
import { CredentialRegistry } from "../../../src/refresh/registry.ts";
import { Secret } from "../../../src/secret.ts";
import { staticSource } from "../../../src/sources/static.ts";
import { MemoryStore } from "../../../src/store/memory.ts";
import { FakeClock, settle } from "../../support/fake-clock.ts";
import { FakeSource } from "../../support/fake-source.ts";

const log = createLogger(() => {}, "error");

function registryWith(clock: FakeClock, fingerprint = "f1") {
  const source = new FakeSource(clock);
  const registry = new CredentialRegistry({ clock, random: () => 0.5 });
  registry.apply([{ name: "api", fingerprint, policy: DEFAULT_POLICY, prefetch: false, createSource: () => source }]);
  return { registry, source };
}

describe("token cache", () => {
  test("a persisted token is served after a restart without calling the source", async () => {
    const clock = new FakeClock();
    const store = new MemoryStore();
    const first = registryWith(clock);
    const token = await first.registry.get("api").get();
    persistToken(store, "api", "f1", token, log);
    await settle();
    expect((await store.get("token:api"))?.reveal()).toContain('"fingerprint":"f1"');

    const second = registryWith(clock);
    expect(await restoreTokens(store, second.registry, clock.now(), log)).toBe(1);
    expect((await second.registry.get("api").get()).value.reveal()).toBe("token-1");
    expect(second.source.calls).toBe(0);
  });

  test("a changed definition ignores the cache; expired entries are removed", async () => {
    const clock = new FakeClock();
    const store = new MemoryStore();
    const first = registryWith(clock);
    persistToken(store, "api", "f1", await first.registry.get("api").get(), log);
    await settle();
    const changed = registryWith(clock, "f2");
    expect(await restoreTokens(store, changed.registry, clock.now(), log)).toBe(0);
    expect(await store.get("token:api")).not.toBeNull();
    await clock.advance(2 * 3_600_000);
    expect(await restoreTokens(store, registryWith(clock).registry, clock.now(), log)).toBe(0);
    expect(await store.get("token:api")).toBeNull();
  });

  test("a store that never answers costs the start at most the timeout", async () => {
    const clock = new FakeClock();
    const warnings: string[] = [];
    const hanging = Object.assign(new MemoryStore(), { get: () => new Promise<never>(() => {}) });
    const started = Date.now();
    const restored = await restoreTokens(
      hanging,
      registryWith(clock).registry,
      clock.now(),
      createLogger((l) => warnings.push(l), "warn"),
      { timeoutMs: 50 },
    );
    expect(restored).toBe(0);
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(warnings.join("")).toContain("did not answer within 0.05s");
  });

  test("with `after`, the store is read once it settles, and the credential waits for the read, not the source", async () => {
    const clock = new FakeClock();
    const store = new MemoryStore();
    const first = registryWith(clock);
    persistToken(store, "api", "f1", await first.registry.get("api").get(), log);
    await settle();
    const second = registryWith(clock);
    const reads: string[] = [];
    const watched = Object.assign(store, {
      get: (account: string) => {
        reads.push(account);
        return MemoryStore.prototype.get.call(store, account);
      },
    });
    let listening!: () => void;
    const after = new Promise<void>((resolve) => (listening = resolve));
    const restoring = restoreTokens(watched, second.registry, clock.now(), log, { after });
    let served = false;
    const asked = second.registry
      .get("api")
      .get()
      .then((t) => ((served = true), t));
    await settle();
    expect(reads).toEqual([]);
    expect(served).toBe(false);
    listening();
    expect((await asked).value.reveal()).toBe("token-1");
    expect(await restoring).toBe(1);
    expect(reads).toEqual(["token:api"]);
    expect(second.source.calls).toBe(0);
  });

  test("malformed cache entries are ignored", async () => {
    const clock = new FakeClock();
    const store = new MemoryStore();
    await store.set("token:api", new Secret("{not json"));
    await store.set("secret:api", new Secret("not a token"));
    expect(await restoreTokens(store, registryWith(clock).registry, clock.now(), log)).toBe(0);
  });
});

describe("static source", () => {
  test("serves the stored secret and sees a changed one at the next fetch", async () => {
    const store = new MemoryStore();
    const source = staticSource("db", 60_000, store);
    const ctx = { signal: new AbortController().signal, now: 1000 };
    await expect(source.fetchToken(ctx)).rejects.toThrow("credagent secret set db");
    await store.set("secret:db", new Secret("pw1"));
    const t = await source.fetchToken(ctx);
    expect([t.value.reveal(), t.expiresAt, t.tokenType]).toEqual(["pw1", 61_000, "static"]);
    await store.set("secret:db", new Secret("pw2"));
    expect((await source.fetchToken(ctx)).value.reveal()).toBe("pw2");
    expect(source.persist).toBe(false);
  });
});

describe("token cache: what the restore reads", () => {
  test("only the token entries of configured credentials, never a listing of the store; what it read is zeroed", async () => {
    const clock = new FakeClock();
    const store = new MemoryStore();
    const first = registryWith(clock);
    persistToken(store, "api", "f1", await first.registry.get("api").get(), log);
    await settle();
    await store.set("secret:db", new Secret("a static secret"));
    await store.set("token:gone", new Secret('{"v":1}'));
    const read: Uint8Array[] = [];
    const watched = Object.assign(store, {
      entries: () => Promise.reject(new Error("the restore must not list the store")),
      get: async (account: string) => {
        const value = await MemoryStore.prototype.get.call(store, account);
        if (value) read.push(value.bytes());
        return value;
      },
    });
    const second = registryWith(clock);
    expect(await restoreTokens(watched, second.registry, clock.now(), log)).toBe(1);
    expect(read.length).toBe(1);
    // The record as read is zeroed; the token lives on in its own bytes, held by the credential.
    expect(read[0]!.every((b) => b === 0)).toBe(true);
    expect((await second.registry.get("api").get()).value.reveal()).toBe("token-1");
  });

  test("a store that fails for every entry (locked) is one warning; one damaged entry is left out", async () => {
    const clock = new FakeClock();
    const warnings: string[] = [];
    const locked = Object.assign(new MemoryStore(), { get: () => Promise.reject(new Error("the store is locked")) });
    const warn = createLogger((l) => warnings.push(l), "warn");
    expect(await restoreTokens(locked, registryWith(clock).registry, clock.now(), warn)).toBe(0);
    expect(warnings).toEqual([expect.stringContaining("cannot read cached tokens")]);
  });
});

describe("token cache: restored while the agent serves", () => {
  test("a request waits for its own entry only, and is served it as soon as it is read; none is fetched", async () => {
    const clock = new FakeClock();
    const store = new MemoryStore();
    const sources = { fast: new FakeSource(clock), slow: new FakeSource(clock) };
    const registry = new CredentialRegistry({ clock, random: () => 0.5 });
    const define = () =>
      (["fast", "slow"] as const).map((name) => ({
        name,
        fingerprint: "f1",
        policy: DEFAULT_POLICY,
        prefetch: false,
        createSource: () => sources[name],
      }));
    registry.apply(define());
    for (const name of ["fast", "slow"]) persistToken(store, name, "f1", await registry.get(name).get(), log);
    await settle();

    const next = new CredentialRegistry({ clock, random: () => 0.5 });
    next.apply(define());
    const calls = { fast: sources.fast.calls, slow: sources.slow.calls };
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const slowStore = Object.assign(store, {
      get: async (account: string) => {
        if (account === "token:slow") await held;
        return MemoryStore.prototype.get.call(store, account);
      },
    });
    const restoring = restoreTokens(slowStore, next, clock.now(), log);
    let slowServed = false;
    const slow = next
      .get("slow")
      .get()
      .then((t) => ((slowServed = true), t));
    expect((await next.get("fast").get()).value.reveal()).toBe("token-1");
    expect(slowServed).toBe(false);
    release();
    expect((await slow).value.reveal()).toBe("token-1");
    expect(await restoring).toBe(2);
    expect({ fast: sources.fast.calls, slow: sources.slow.calls }).toEqual(calls);
  });

  test("static values are not read: they have no cache entry", async () => {
    const clock = new FakeClock();
    const registry = new CredentialRegistry({ clock, random: () => 0.5 });
    registry.apply([
      {
        name: "pw",
        fingerprint: "f1",
        policy: DEFAULT_POLICY,
        prefetch: false,
        createSource: () => staticSource("pw", 60_000, new MemoryStore()),
      },
    ]);
    const store = Object.assign(new MemoryStore(), { get: () => Promise.reject(new Error("the store must not be read")) });
    const warnings: string[] = [];
    expect(
      await restoreTokens(
        store,
        registry,
        clock.now(),
        createLogger((l) => warnings.push(l), "warn"),
      ),
    ).toBe(0);
    expect(warnings).toEqual([]);
  });
});
