import { describe, expect, test } from "bun:test";
import { AgentLock } from "../../../src/policy/lock.ts";
import { createApp } from "../../../src/api/app.ts";
import { SecretBodyResponse } from "../../../src/http/secret-response.ts";
import { DEFAULT_POLICY } from "../../../src/refresh/policy.ts";
import { CredentialRegistry } from "../../../src/refresh/registry.ts";
import { FakeClock } from "../../support/fake-clock.ts";
import { FakeSource } from "../../support/fake-source.ts";

function setup() {
  const clock = new FakeClock();
  const source = new FakeSource(clock);
  // A second credential that the stubbed access rules refuse to this peer.
  const guarded = new FakeSource(clock);
  const registry = new CredentialRegistry({ clock, random: () => 0.5 });
  registry.apply([
    { name: "db", fingerprint: "1", policy: DEFAULT_POLICY, prefetch: false, createSource: () => source },
    { name: "secret-db", fingerprint: "2", policy: DEFAULT_POLICY, prefetch: false, createSource: () => guarded },
  ]);
  const internal: unknown[] = [];
  const lock = new AgentLock({
    hash: async (p) => `hash:${p}`,
    verify: async (p, h) => h === `hash:${p}`,
    now: () => clock.now(),
    onLock: () => registry.forgetAll(),
    onUnlock: async () => {},
  });
  const app = createApp(
    {
      registry,
      lock,
      authorize: async (name: string) => ({
        allowed: name !== "secret-db",
        reason: name === "secret-db" ? "rule 1 { uid = 0 }: uid is 1000" : "no rules",
      }),
      mayList: async (name: string) => name !== "secret-db",
      sessionToken: null,
      approvals: { list: () => [], answer: () => {} },
      info: { version: "9.9.9", pid: 42, socket: "/s", startedAt: clock.now() },
      now: () => clock.now(),
    },
    (err) => internal.push(err),
  );
  const request = (path: string, init: RequestInit = {}) =>
    app.request(`http://localhost${path}`, { ...init, headers: { host: "localhost", ...(init.headers as Record<string, string>) } });
  return { clock, source, guarded, app, request, internal, lock };
}

async function errorCode(res: Response): Promise<string> {
  return ((await res.json()) as { error: { code: string } }).error.code;
}

describe("API", () => {
  test("health", async () => {
    const res = await setup().request("/v1/health");
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ status: "ok", version: "9.9.9", pid: 42, socket: "/s" });
  });

  test("a token, with expiry and no caching", async () => {
    const { request } = setup();
    const res = await request("/v1/credentials/db");
    expect(res.status).toBe(200);
    // The secret's own buffer reaches the server (which zeroes it), not a copy inside the runtime:
    // a middleware that made hono re-wrap the answer would lose it.
    expect(res).toBeInstanceOf(SecretBodyResponse);
    expect(res.headers.get("cache-control")).toBe("no-store");
    expect(await res.json()).toEqual({
      name: "db",
      kind: "bearer",
      token: "token-1",
      token_type: "Bearer",
      expires_at: new Date(Date.UTC(2026, 0, 1) + 3_600_000).toISOString(),
      expires_in: 3600,
    });
  });

  test("list shows states and never a token", async () => {
    const { request } = setup();
    await request("/v1/credentials/db");
    const text = await (await request("/v1/credentials")).text();
    expect(JSON.parse(text).credentials[0]).toMatchObject({ name: "db", source: "fake", state: "fresh" });
    expect(text).not.toContain("token-1");
  });

  test("a credential the rules refuse: 403 naming the rule, for fetch and refresh, and its source is never asked", async () => {
    const { request, guarded } = setup();
    for (const res of [
      await request("/v1/credentials/secret-db"),
      await request("/v1/credentials/secret-db/refresh", { method: "POST" }),
    ]) {
      expect(res.status).toBe(403);
      const body = (await res.json()) as { error: { code: string; message: string } };
      expect(body.error).toEqual({
        code: "forbidden",
        message: "credential 'secret-db' is not for this process: rule 1 { uid = 0 }: uid is 1000",
      });
    }
    expect(guarded.calls).toBe(0);
  });

  test("list leaves out what mayList refuses, and keeps what it allows", async () => {
    const { request } = setup();
    const res = await request("/v1/credentials");
    expect(res.status).toBe(200);
    const names = ((await res.json()) as { credentials: Array<{ name: string }> }).credentials.map((c) => c.name);
    expect(names).toEqual(["db"]);
  });

  test("refresh forces a new token", async () => {
    const { request, source } = setup();
    await request("/v1/credentials/db");
    const res = await request("/v1/credentials/db/refresh", { method: "POST" });
    expect(((await res.json()) as { token: string }).token).toBe("token-2");
    expect(source.calls).toBe(2);
  });

  test("errors: unknown name 404, bad name 400, bad min_valid 400, wrong method 405, unknown path 404", async () => {
    const { request } = setup();
    let res = await request("/v1/credentials/nope");
    expect([res.status, await errorCode(res)]).toEqual([404, "unknown_credential"]);
    res = await request(`/v1/credentials/${"a".repeat(129)}`);
    expect([res.status, await errorCode(res)]).toEqual([400, "bad_request"]);
    res = await request("/v1/credentials/a%20b");
    expect(res.status).toBe(400);
    res = await request("/v1/credentials/db?min_valid=-1");
    expect([res.status, await errorCode(res)]).toEqual([400, "bad_request"]);
    res = await request("/v1/credentials/db", { method: "DELETE" });
    expect(res.status).toBe(405);
    res = await request("/v2/anything");
    expect([res.status, await errorCode(res)]).toEqual([404, "not_found"]);
  });

  test("a failing source is 503 unavailable with its reason", async () => {
    const { request, source } = setup();
    source.failWith = new Error("provider down");
    const res = await request("/v1/credentials/db");
    expect(res.status).toBe(503);
    const body = (await res.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe("unavailable");
    expect(body.error.message).toContain("provider down");
  });

  test("lock: 423 on credentials until unlock with the same passphrase; tokens dropped", async () => {
    const { request, source, clock } = setup();
    await request("/v1/credentials/db");
    const post = (path: string, body: unknown) =>
      request(path, { method: "POST", body: JSON.stringify(body), headers: { "content-type": "application/json" } });
    expect((await post("/v1/lock", { passphrase: "pw" })).status).toBe(200);
    for (const path of ["/v1/credentials/db", "/v1/credentials/db/login"]) {
      const res = await request(path);
      expect([res.status, await errorCode(res)]).toEqual([423, "locked"]);
    }
    // The list stays readable (names and states: `credagent status` on a locked agent), with no token in it.
    const listed = await request("/v1/credentials");
    expect(listed.status).toBe(200);
    expect((await listed.json()) as unknown).toMatchObject({ credentials: [{ name: "db" }] });
    expect(JSON.parse(await (await request("/v1/health")).text()).locked).toBe(true);
    expect((await post("/v1/lock", { passphrase: "again" })).status).toBe(423);
    const wrong = await post("/v1/unlock", { passphrase: "nope" });
    expect([wrong.status, await errorCode(wrong)]).toEqual([403, "forbidden"]);
    // Within the backoff after a failure an attempt is refused unchecked, saying when to retry.
    const early = await post("/v1/unlock", { passphrase: "pw" });
    expect([early.status, await errorCode(early), early.headers.get("retry-after")]).toEqual([429, "too_many_attempts", "1"]);
    expect((await post("/v1/unlock", { nope: 1 })).status).toBe(400);
    await clock.advance(100);
    expect((await post("/v1/unlock", { passphrase: "pw" })).status).toBe(200);
    const res = await request("/v1/credentials/db");
    expect(((await res.json()) as { token: string }).token).toBe("token-2");
    expect(source.calls).toBe(2);
  });

  test("the front door refuses browsers and foreign Host headers", async () => {
    const { request } = setup();
    expect((await request("/v1/health", { headers: { origin: "https://evil.example" } })).status).toBe(403);
    expect((await request("/v1/health", { headers: { referer: "https://evil.example/" } })).status).toBe(403);
    expect((await request("/v1/health", { headers: { host: "evil.example" } })).status).toBe(403);
    expect((await request("/v1/health", { headers: { host: "localhost:80" } })).status).toBe(200);
  });

  test("oversized bodies get 413", async () => {
    const { request } = setup();
    const res = await request("/v1/credentials/db/refresh", { method: "POST", body: "x".repeat(70_000) });
    expect([res.status, await errorCode(res)]).toEqual([413, "payload_too_large"]);
  });

  test("an unexpected exception is a 500 with no detail, reported to the agent", async () => {
    const { app, request, internal } = setup();
    app.get("/v1/boom", () => {
      throw new Error("secret detail");
    });
    const res = await request("/v1/boom");
    expect(res.status).toBe(500);
    expect(await res.text()).not.toContain("secret detail");
    expect(internal).toHaveLength(1);
  });
});
