import { describe, expect, test } from "bun:test";
import { DEFAULT_POLICY } from "../../../src/refresh/policy.ts";
import { Secret } from "../../../src/secret.ts";
import { CredentialRegistry, type CredentialDefinition } from "../../../src/refresh/registry.ts";
import { FakeClock } from "../../support/fake-clock.ts";
import { FakeSource } from "../../support/fake-source.ts";

describe("CredentialRegistry", () => {
  test("a reload keeps the tokens of unchanged credentials and drops the rest", async () => {
    const clock = new FakeClock();
    const sources = new Map<string, FakeSource>();
    const def = (name: string, fingerprint: string): CredentialDefinition => ({
      name,
      fingerprint,
      policy: DEFAULT_POLICY,
      prefetch: false,
      createSource: () => {
        const s = new FakeSource(clock);
        sources.set(`${name}@${fingerprint}`, s);
        return s;
      },
    });
    const registry = new CredentialRegistry({ clock, random: () => 0.5 });
    registry.apply([def("a", "1"), def("b", "1"), def("c", "1")]);
    for (const n of ["a", "b", "c"]) await registry.get(n).get();

    const result = registry.apply([def("a", "1"), def("b", "2"), def("d", "1")]);
    expect(result).toEqual({ added: ["d"], changed: ["b"], removed: ["c"], kept: ["a"] });
    expect(registry.get("a").snapshot().state).toBe("fresh");
    expect(registry.get("b").snapshot().state).toBe("not_loaded");
    expect(() => registry.get("c")).toThrow(/no credential named 'c'/);
    await registry.get("a").get();
    expect(sources.get("a@1")!.calls).toBe(1);
  });

  test("prefetch fetches at apply time", async () => {
    const clock = new FakeClock();
    const source = new FakeSource(clock);
    const registry = new CredentialRegistry({ clock, random: () => 0.5 });
    registry.apply([{ name: "p", fingerprint: "x", policy: DEFAULT_POLICY, prefetch: true, createSource: () => source }]);
    await clock.advance(0);
    expect(source.calls).toBe(1);
    expect(registry.get("p").snapshot().state).toBe("fresh");
  });

  test("prefetch held back at apply: prefetchAll fetches only what no seeded token covers", async () => {
    const clock = new FakeClock();
    const seeded = new FakeSource(clock);
    const empty = new FakeSource(clock);
    const registry = new CredentialRegistry({ clock, random: () => 0.5 });
    const def = (name: string, source: FakeSource): CredentialDefinition => ({
      name,
      fingerprint: "x",
      policy: DEFAULT_POLICY,
      prefetch: true,
      createSource: () => source,
    });
    registry.apply([def("seeded", seeded), def("empty", empty)], { prefetch: false });
    await clock.advance(0);
    expect(seeded.calls + empty.calls).toBe(0);
    const now = clock.now();
    registry.get("seeded").seed({ value: new Secret("cached"), tokenType: "Bearer", obtainedAt: now, expiresAt: now + 3_600_000 });
    registry.prefetchAll();
    await clock.advance(0);
    expect(seeded.calls).toBe(0);
    expect(empty.calls).toBe(1);
    expect(registry.get("seeded").snapshot().state).toBe("fresh");
  });
});
