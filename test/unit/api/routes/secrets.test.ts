import { expect, test } from "bun:test";
import { AgentLock } from "../../../../src/policy/lock.ts";
import { createApp } from "../../../../src/api/app.ts";
import { DEFAULT_POLICY } from "../../../../src/refresh/policy.ts";
import { CredentialRegistry } from "../../../../src/refresh/registry.ts";
import { CannotHealError } from "../../../../src/sources/source.ts";
import { FakeClock, settle } from "../../../support/fake-clock.ts";
import { FakeSource } from "../../../support/fake-source.ts";

// POST /v1/secrets/NAME/changed, the notice of `credagent secret set/rm`, through app.request().
function setup() {
  const clock = new FakeClock();
  const source = new FakeSource(clock);
  const registry = new CredentialRegistry({ clock, random: () => 0.5 });
  const kept = new FakeSource(clock);
  registry.apply([
    { name: "db", fingerprint: "1", policy: DEFAULT_POLICY, prefetch: false, secrets: ["db"], createSource: () => source },
    {
      name: "kept",
      fingerprint: "1",
      policy: DEFAULT_POLICY,
      prefetch: false,
      secrets: ["kept"],
      keptFresh: true,
      createSource: () => kept,
    },
  ]);
  const lock = new AgentLock({
    hash: async () => "hash",
    verify: async () => false,
    now: () => clock.now(),
    onLock: () => {},
    onUnlock: async () => {},
  });
  const app = createApp(
    {
      registry,
      lock,
      authorize: async () => ({ allowed: true, reason: "no rules" }),
      mayList: async () => true,
      sessionToken: null,
      approvals: { list: () => [], answer: () => {} },
      info: { version: "9.9.9", pid: 42, socket: "/s", startedAt: clock.now() },
      now: () => clock.now(),
    },
    () => {},
  );
  const request = (method: string, path: string) => app.request(`http://localhost${path}`, { method, headers: { host: "localhost" } });
  return { source, registry, request, kept };
}

test("the notice retries the failing credentials that use the secret, and names them", async () => {
  const { source, registry, request } = setup();
  source.failWith = new CannotHealError("source_failed", "no secret is stored for 'db'");
  await registry
    .get("db")
    .get()
    .catch(() => {});
  source.failWith = undefined;
  const res = await request("POST", "/v1/secrets/db/changed");
  expect(res.status).toBe(200);
  expect(await res.json()).toEqual({ secret: "db", retried: ["db"], refreshed: [] });
  await settle();
  expect(registry.get("db").snapshot().state).toBe("fresh");
  expect(await (await request("POST", "/v1/secrets/other/changed")).json()).toEqual({ secret: "other", retried: [], refreshed: [] });
});

test("a credential a kept file holds is fetched again at once with the new secret, and named", async () => {
  const { registry, request, kept } = setup();
  await registry.get("kept").get();
  expect(kept.calls).toBe(1);
  const res = await request("POST", "/v1/secrets/kept/changed");
  expect(await res.json()).toEqual({ secret: "kept", retried: [], refreshed: ["kept"] });
  expect(kept.calls).toBe(2);
  expect(registry.get("kept").current()?.value.reveal()).toBe("token-2");
});

test("only POST, and only a valid name", async () => {
  const { request } = setup();
  const get = await request("GET", "/v1/secrets/db/changed");
  expect(get.status).toBe(405);
  expect(get.headers.get("allow")).toBe("POST");
  expect((await request("POST", "/v1/secrets/a%20b/changed")).status).toBe(400);
});
