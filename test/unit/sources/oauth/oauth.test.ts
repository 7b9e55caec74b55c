import { afterAll, describe, expect, test } from "bun:test";
import { configError } from "../../../support/config-errors.ts";
import { decodeProtectedHeader, jwtVerify, importX509 } from "jose";
import { createHash, X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseConfig } from "../../../../src/config/load.ts";
import { Secret } from "../../../../src/secret.ts";
import { clientCredentialsSource } from "../../../../src/sources/oauth/client-credentials.ts";
import { deviceCodeSource } from "../../../../src/sources/oauth/device-code.ts";
import type { OAuthOptions } from "../../../../src/sources/oauth/options.ts";
import { MemoryStore } from "../../../../src/store/memory.ts";
import { createSource } from "../../../../src/agent/sources.ts";
import { canExchangeIdTokens } from "../../../../src/sources/source.ts";
import { jwtAudiences } from "../../../../src/sources/token-output.ts";

// A scripted token endpoint on 127.0.0.1 (unit tests may fake the provider; the e2e tests use
// the real oidc-provider).
let reply: (req: Request, body: URLSearchParams) => Response = () => new Response("{}");
const seen: Array<{ headers: Headers; body: URLSearchParams }> = [];
const server = Bun.serve({
  hostname: "127.0.0.1",
  port: 0,
  async fetch(req) {
    const body = new URLSearchParams(await req.text());
    seen.push({ headers: req.headers, body });
    return reply(req, body);
  },
});
afterAll(() => server.stop(true));
const endpoint = `http://127.0.0.1:${server.port}/token`;
const json = (body: unknown, status = 200) =>
  new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });

function options(extra: Partial<OAuthOptions> = {}): OAuthOptions {
  return {
    name: "api",
    grant: "client_credentials",
    tokenEndpoint: endpoint,
    clientId: "app",
    clientAuth: "client_secret_basic",
    httpTimeoutMs: 2_000,
    defaultLifetimeMs: 60_000,
    ...extra,
  };
}
const ctx = () => ({ signal: new AbortController().signal, now: Date.now() });

async function failure(p: Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await p;
  } catch (err) {
    return err as { code: string; message: string };
  }
  throw new Error("expected a failure");
}

describe("oauth2 sources against a scripted endpoint", () => {
  test("client_credentials sends scope, resource and audience, with basic auth", async () => {
    const store = new MemoryStore();
    await store.set("secret:api", new Secret("s3cret"));
    reply = () => json({ access_token: "at-1", token_type: "bearer", expires_in: 120 });
    const token = await clientCredentialsSource(
      options({ scope: "db.read", resource: "https://db.example", audience: "aud-1" }),
      store,
    ).fetchToken(ctx());
    expect([token.value.reveal(), token.tokenType]).toEqual(["at-1", "Bearer"]);
    expect(token.expiresAt - token.obtainedAt).toBe(120_000);
    const last = seen.at(-1)!;
    expect(last.body.get("grant_type")).toBe("client_credentials");
    expect([last.body.get("scope"), last.body.get("resource"), last.body.get("audience")]).toEqual([
      "db.read",
      "https://db.example",
      "aud-1",
    ]);
    expect(last.headers.get("authorization")).toBe(`Basic ${Buffer.from("app:s3cret").toString("base64")}`);
  });

  test("private_key_jwt with a certificate: the assertion carries x5t#S256 and verifies with the certificate", async () => {
    const store = new MemoryStore();
    const fixtures = join(import.meta.dir, "../../../fixtures");
    const certPem = readFileSync(join(fixtures, "client-cert.pem"), "utf8");
    await store.set("secret:api", new Secret(readFileSync(join(fixtures, "client-key.pem"), "utf8") + certPem));
    reply = () => json({ access_token: "at-2", token_type: "Bearer", expires_in: 60 });
    await clientCredentialsSource(options({ clientAuth: "private_key_jwt" }), store).fetchToken(ctx());
    const assertion = seen.at(-1)!.body.get("client_assertion")!;
    expect(seen.at(-1)!.body.get("client_assertion_type")).toBe("urn:ietf:params:oauth:client-assertion-type:jwt-bearer");
    const thumbprint = createHash("sha256").update(new X509Certificate(certPem).raw).digest("base64url");
    expect(decodeProtectedHeader(assertion)["x5t#S256"]).toBe(thumbprint);
    const { payload } = await jwtVerify(assertion, await importX509(certPem, "ES256"), { issuer: "app", subject: "app" });
    expect(payload.aud).toBeDefined();
  });

  test("provider errors map to clear messages without secrets", async () => {
    const store = new MemoryStore();
    await store.set("secret:api", new Secret("s3cret"));
    const source = clientCredentialsSource(options(), store);
    reply = () => json({ error: "invalid_scope", error_description: "unknown scope" }, 400);
    expect((await failure(source.fetchToken(ctx()))).message).toContain("answered HTTP 400 invalid_scope: unknown scope");
    reply = () => new Response("<html>Bad Gateway</html>", { status: 502 });
    expect((await failure(source.fetchToken(ctx()))).message).toContain("(HTTP 502)");
    reply = () => new Response("{not json", { status: 200, headers: { "content-type": "application/json" } });
    expect((await failure(source.fetchToken(ctx()))).message).toContain("unexpected answer from the identity provider");
    reply = () => json({ token_type: "Bearer" });
    const noToken = await failure(source.fetchToken(ctx()));
    expect(noToken.code).toBe("source_failed");
    for (const m of [noToken.message]) expect(m).not.toContain("s3cret");
  });

  test("refresh: invalid_grant is login_required; a rotated refresh token is stored before the token is returned", async () => {
    const store = new MemoryStore();
    const source = deviceCodeSource(options({ grant: "device_code", clientAuth: "none", deviceAuthorizationEndpoint: endpoint }), store);
    expect((await failure(source.fetchToken(ctx()))).code).toBe("login_required");
    await store.set("refresh:api", new Secret("rt-1"));
    reply = () => json({ access_token: "at-3", token_type: "Bearer", expires_in: 60, refresh_token: "rt-2" });
    expect((await source.fetchToken(ctx())).value.reveal()).toBe("at-3");
    expect(seen.at(-1)!.body.get("refresh_token")).toBe("rt-1");
    expect((await store.get("refresh:api"))?.reveal()).toBe("rt-2");
    reply = () => json({ error: "invalid_grant", error_description: "grant request is invalid" }, 400);
    const err = await failure(source.fetchToken(ctx()));
    expect(err.code).toBe("login_required");
    expect(err.message).toContain("credagent login api");
    expect(err.message).not.toContain("rt-2");
  });

  test("device login: polls through authorization_pending and slow_down, stores the refresh token", async () => {
    const store = new MemoryStore();
    let polls = 0;
    reply = (_req, body) => {
      if (body.get("client_id") && !body.get("grant_type")) {
        return json({ device_code: "dc", user_code: "ABCD-EFGH", verification_uri: "https://idp/device", expires_in: 30, interval: 1 });
      }
      polls += 1;
      if (polls === 1) return json({ error: "authorization_pending" }, 400);
      if (polls === 2) return json({ error: "slow_down" }, 400);
      return json({ access_token: "at-4", token_type: "Bearer", expires_in: 60, refresh_token: "rt-login" });
    };
    // The waits asked for, not spent: interval 1 s, then 1 + 5 s after slow_down (RFC 8628 3.5).
    const waits: number[] = [];
    const source = deviceCodeSource(
      options({ grant: "device_code", clientAuth: "none", deviceAuthorizationEndpoint: endpoint }),
      store,
      async (ms) => {
        waits.push(ms);
      },
    );
    const challenge = await source.login(ctx());
    expect([challenge.userCode, challenge.verificationUri]).toEqual(["ABCD-EFGH", "https://idp/device"]);
    expect((await challenge.completion).value.reveal()).toBe("at-4");
    expect(waits).toEqual([1_000, 1_000, 6_000]);
    expect(polls).toBe(3);
    expect((await store.get("refresh:api"))?.reveal()).toBe("rt-login");
  });

  test("device login: access_denied ends the login with a clear message", async () => {
    reply = (_req, body) =>
      body.get("grant_type")
        ? json({ error: "access_denied" }, 400)
        : json({ device_code: "dc", user_code: "X", verification_uri: "https://idp/d", expires_in: 30, interval: 1 });
    const source = deviceCodeSource(
      options({ grant: "device_code", clientAuth: "none", deviceAuthorizationEndpoint: endpoint }),
      new MemoryStore(),
      async () => {},
    );
    const challenge = await source.login(ctx());
    expect((await failure(challenge.completion)).message).toContain("was denied");
  });
});

describe("oauth2 config", () => {
  test("the Entra preset fills in the v2.0 endpoints of the tenant", () => {
    const c = parseConfig(
      '[credentials.sql]\nsource = "oauth2"\ngrant = "client_credentials"\nprovider = "entra"\ntenant = "contoso.onmicrosoft.com"\nclient_id = "app"\nscope = "https://database.windows.net/.default"\n',
      "/c.toml",
    ).credentials[0]!;
    expect(c).toMatchObject({
      source: "oauth2",
      tokenEndpoint: "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token",
      deviceAuthorizationEndpoint: "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/devicecode",
      clientAuth: "client_secret_basic",
      scope: "https://database.windows.net/.default",
    });
  });

  test("an oauth2 credential needs an issuer, a token endpoint or a preset with a tenant", () => {
    expect(configError('[credentials.a]\nsource = "oauth2"\ngrant = "client_credentials"\nclient_id = "x"\n')).toContain("expected issuer");
    expect(
      configError('[credentials.a]\nsource = "oauth2"\ngrant = "client_credentials"\nprovider = "entra"\nclient_id = "x"\n'),
    ).toContain("needs tenant");
    expect(configError('[credentials.a]\nsource = "oauth2"\ngrant = "password"\nissuer = "https://x"\nclient_id = "x"\n')).toContain(
      "credentials.a.grant",
    );
    expect(
      parseConfig('[credentials.a]\nsource = "oauth2"\ngrant = "device_code"\nissuer = "https://x"\nclient_id = "x"\n', "/c")
        .credentials[0],
    ).toMatchObject({ clientAuth: "none" });
  });
});

describe("ID tokens by token exchange (RFC 8693)", () => {
  const issuer = `http://127.0.0.1:${server.port}`;
  const jwt = (claims: Record<string, unknown>) =>
    `${Buffer.from('{"alg":"RS256"}').toString("base64url")}.${Buffer.from(JSON.stringify(claims)).toString("base64url")}.sig`;
  const subject = { value: new Secret("access-1"), tokenType: "Bearer", obtainedAt: Date.now(), expiresAt: Date.now() + 60_000 };
  const discovery = (grants: string[]) => (req: Request) =>
    new URL(req.url).pathname.startsWith("/.well-known/")
      ? json({ issuer, token_endpoint: `${issuer}/token`, grant_types_supported: grants })
      : json({
          access_token: jwt({ aud: "https://run.example", exp: Math.floor(Date.now() / 1000) + 600 }),
          issued_token_type: "urn:ietf:params:oauth:token-type:id_token",
          token_type: "N_A",
        });

  test("the access token is exchanged for an ID token for the audience, with the client's authentication", async () => {
    const store = new MemoryStore();
    await store.set("secret:api", new Secret("s3cret"));
    reply = discovery(["client_credentials", "urn:ietf:params:oauth:grant-type:token-exchange"]);
    const source = clientCredentialsSource(options({ tokenEndpoint: undefined, issuer }), store);
    const token = await source.exchangeIdToken(ctx(), subject, "https://run.example");
    expect(token.expiresAt - Date.now()).toBeGreaterThan(590_000);
    const sent = seen.at(-1)!;
    expect(Object.fromEntries(sent.body)).toEqual({
      grant_type: "urn:ietf:params:oauth:grant-type:token-exchange",
      subject_token: "access-1",
      subject_token_type: "urn:ietf:params:oauth:token-type:access_token",
      requested_token_type: "urn:ietf:params:oauth:token-type:id_token",
      audience: "https://run.example",
    });
    expect(sent.headers.get("authorization")).toBe(`Basic ${Buffer.from("app:s3cret").toString("base64")}`);
  });

  test("a provider whose metadata offers no token exchange is not asked: the refusal says what it can give", async () => {
    const store = new MemoryStore();
    reply = discovery(["client_credentials"]);
    const count = seen.length;
    const err = await failure(
      clientCredentialsSource(options({ tokenEndpoint: undefined, issuer }), store).exchangeIdToken(ctx(), subject, "https://run.example"),
    );
    expect(err.code).toBe("bad_request");
    expect(err.message).toContain("issues ID tokens for its client id app only");
    expect(err.message).toContain("no token exchange (RFC 8693)");
    // Discovery only.
    expect(seen.slice(count).every((s) => !s.body.get("grant_type"))).toBe(true);
  });

  test("the agent's oauth2 sources (loaded at first use) exchange ID tokens, both grants", async () => {
    const store = new MemoryStore();
    await store.set("secret:api", new Secret("s3cret"));
    reply = discovery(["client_credentials", "urn:ietf:params:oauth:grant-type:token-exchange"]);
    for (const grant of ["client_credentials", "device_code"]) {
      const config = parseConfig(
        `[credentials.api]\nsource = "oauth2"\ngrant = "${grant}"\nissuer = "${issuer}"\nclient_id = "app"\n` +
          (grant === "device_code" ? 'client_auth = "none"\n' : ""),
        "/c.toml",
      ).credentials[0]!;
      const source = createSource(config, { env: {}, store });
      expect(canExchangeIdTokens(source)).toBe(true);
      if (!canExchangeIdTokens(source)) return;
      const token = await source.exchangeIdToken(ctx(), subject, "https://run.example");
      expect(jwtAudiences(token.value.bytes())).toEqual(["https://run.example"]);
      expect(seen.at(-1)!.body.get("grant_type")).toBe("urn:ietf:params:oauth:grant-type:token-exchange");
    }
  });

  test("an answer that is not an ID token is refused", async () => {
    const store = new MemoryStore();
    await store.set("secret:api", new Secret("s3cret"));
    reply = (req) =>
      new URL(req.url).pathname.startsWith("/.well-known/")
        ? json({ issuer, token_endpoint: `${issuer}/token`, grant_types_supported: ["urn:ietf:params:oauth:grant-type:token-exchange"] })
        : json({
            access_token: "x",
            issued_token_type: "urn:ietf:params:oauth:token-type:access_token",
            token_type: "Bearer",
            expires_in: 60,
          });
    const err = await failure(
      clientCredentialsSource(options({ tokenEndpoint: undefined, issuer }), store).exchangeIdToken(ctx(), subject, "https://run.example"),
    );
    expect(err.code).toBe("source_failed");
    expect(err.message).toContain("not an ID token");
  });
});
