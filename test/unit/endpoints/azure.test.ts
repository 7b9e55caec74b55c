import { describe, expect, test } from "bun:test";
import { createEndpointsApp } from "../../../src/endpoints/app.ts";
import { SecretBodyResponse } from "../../../src/http/secret-response.ts";
import type { EndpointDeps } from "../../../src/endpoints/deps.ts";
import { EndpointSecret } from "../../../src/endpoints/secret.ts";
import { DEFAULT_POLICY } from "../../../src/refresh/policy.ts";
import { CredentialRegistry } from "../../../src/refresh/registry.ts";
import { FakeClock } from "../../support/fake-clock.ts";
import { FakeSource } from "../../support/fake-source.ts";

// The Azure protocols through the endpoints' front door with no server (app.request), a fake
// source behind: which request gets a token, which is refused, and that a refusal runs no source.
// (Another uid never reaches the app: the admission step refuses it at accept; the e2e tests try it.)

const DB = "https://ossrdbms-aad.database.windows.net";
const UID = 1000;

function setup(options: { uidKnown?: boolean } = {}) {
  const clock = new FakeClock();
  const source = new FakeSource(clock);
  const registry = new CredentialRegistry({ clock, random: () => 0.5 });
  registry.apply([
    { name: "db", fingerprint: "1", policy: DEFAULT_POLICY, prefetch: false, azure: { resource: DB }, createSource: () => source },
  ]);
  const secret = new EndpointSecret(new Uint8Array(32).fill(7));
  const audited: string[] = [];
  const deps: EndpointDeps = {
    registry,
    config: { azure: true, port: 0 },
    secret,
    locked: () => false,
    authorize: async (_name, peer) => {
      audited.push(peer.form ?? "");
      return { allowed: true, reason: "test" };
    },
    uidKnown: options.uidKnown ?? true,
    now: () => clock.now(),
  };
  const app = createEndpointsApp(deps);
  // A Request made from a URL has no Host header: the one a client sends is added.
  const request = (path: string, init: RequestInit = {}, peerUid: number | null = UID) =>
    app.request(
      `http://127.0.0.1:1234${path}`,
      { ...init, headers: { Host: "127.0.0.1:1234", ...(init.headers as Record<string, string>) } },
      { transport: "tcp", uid: peerUid, peer: null, process: null },
    );
  return { source, request, secret: secret.value.reveal(), audited };
}

const imds = `/metadata/identity/oauth2/token?api-version=2018-02-01&resource=${encodeURIComponent(DB)}`;
const q = (version: string) => `/msi/token?api-version=${version}&resource=${encodeURIComponent(DB)}`;
const form = (extra: Record<string, string> = {}) => ({
  method: "POST",
  headers: { "Content-Type": "application/x-www-form-urlencoded", ...extra },
  body: `resource=${encodeURIComponent(DB)}`,
});

describe("the Azure protocols", () => {
  test("each form gets the token, with expires_on and expires_in in seconds as strings", async () => {
    const { request, secret, audited } = setup();
    const answers = [
      await request(q("2019-08-01"), { headers: { "X-IDENTITY-HEADER": secret } }),
      await request(q("2017-09-01"), { headers: { secret } }),
      await request("/msi/token", form({ Metadata: "true" })),
      await request(imds, { headers: { Metadata: "true" } }),
    ];
    for (const r of answers) {
      expect(r.status).toBe(200);
      // The token's own buffer reaches the server, which zeroes it (see http/secret-response.ts).
      expect(r).toBeInstanceOf(SecretBodyResponse);
      const body = (await r.json()) as Record<string, string>;
      expect(body).toMatchObject({ access_token: "token-1", resource: DB, token_type: "Bearer", expires_in: "3600" });
      expect(body.expires_on).toMatch(/^\d{10}$/);
    }
    expect(audited).toEqual(["App Service 2019", "App Service 2017", "Cloud Shell", "IMDS"]);
  });

  test("refused without the protocol's header or secret, with X-Forwarded-For, and by method; no source runs", async () => {
    const { request, source, secret } = setup();
    const cases: Array<[string, RequestInit, number]> = [
      [imds, {}, 400],
      [imds, { headers: { Metadata: "true", "X-Forwarded-For": "198.51.100.1" } }, 403],
      [imds, { method: "HEAD", headers: { Metadata: "true" } }, 405],
      [imds, { method: "PUT", headers: { Metadata: "true" } }, 405],
      ["/msi/token", form(), 400],
      ["/msi/token", { ...form({ Metadata: "true" }), body: "" }, 400],
      [q("2017-09-01"), {}, 401],
      [q("2017-09-01"), { headers: { "X-IDENTITY-HEADER": secret } }, 401],
      [q("2019-08-01"), { headers: { secret } }, 401],
      [q("2019-08-01"), { method: "HEAD", headers: { "X-IDENTITY-HEADER": secret } }, 405],
      ["/msi/token?resource=x", { headers: { secret } }, 400],
    ];
    for (const [path, init, status] of cases) {
      const r = await request(path, init);
      expect(`${init.method ?? "GET"} ${path} ${r.status}`).toBe(`${init.method ?? "GET"} ${path} ${status}`);
      expect(await r.text()).not.toContain("token-");
    }
    expect(source.calls).toBe(0);
  });

  test("where the peer's uid cannot be known, the forms without a secret are off and say what to use", async () => {
    const { request, secret } = setup({ uidKnown: false });
    expect((await request(imds, { headers: { Metadata: "true" } }, null)).status).toBe(404);
    const post = await request("/msi/token", form({ Metadata: "true" }), null);
    expect(post.status).toBe(403);
    expect(((await post.json()) as { message: string }).message).toContain("APPSETTING_WEBSITE_SITE_NAME");
    expect((await request(q("2017-09-01"), { headers: { secret } }, null)).status).toBe(200);
  });
});
