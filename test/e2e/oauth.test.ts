import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createRemoteJWKSet, jwtVerify } from "jose";
import net from "node:net";
import { join } from "node:path";
import { Secret } from "../../src/secret.ts";
import { FileStore } from "../../src/store/file.ts";
import { approveDevice } from "../support/device-approve.ts";
import { TestProvider } from "../support/oidc.ts";
import { BIN, Sandbox, waitFor } from "./harness.ts";

// A real OpenID Provider (oidc-provider under Node) on 127.0.0.1 issuing 3-second JWT access
// tokens, and the compiled binary. Secrets live in the encrypted file store here, so these tests
// leave nothing in the shared keyring.
const TTL = 3;
const PASSPHRASE = "oauth-test-passphrase";
let provider: TestProvider;

beforeAll(async () => {
  provider = await TestProvider.create(TTL);
});
afterAll(() => provider?.close());

function oauthSandbox(credentials: string): Sandbox {
  const box = new Sandbox();
  box.env.CRED_SOCK = box.socket;
  box.env.CREDAGENT_FILE_PASSPHRASE = PASSPHRASE;
  box.writeConfig(`keyring = "file"\n\n${credentials}`);
  return box;
}

async function setSecret(box: Sandbox, name: string, value: string): Promise<void> {
  const r = await box.run(["secret", "set", name, "--stdin"], { input: value });
  if (r.code !== 0) throw new Error(`secret set failed: ${r.stderr}`);
}

const clientCredentials = (name: string, clientId: string, extra = "") =>
  `[credentials.${name}]\nsource = "oauth2"\ngrant = "client_credentials"\nissuer = "${provider.issuer}"\nclient_id = "${clientId}"\nscope = "api:read"\n${extra}\n`;

async function verify(token: string) {
  const jwks = createRemoteJWKSet(new URL(`${provider.issuer}/jwks`));
  return jwtVerify(token, jwks, { issuer: provider.issuer, audience: "https://api.credagent.test" });
}

describe("client_credentials against a real provider", () => {
  test("client_secret_basic, client_secret_post and private_key_jwt tokens verify against the provider's JWKS", async () => {
    const box = oauthSandbox(
      clientCredentials("basic", "svc-basic") +
        clientCredentials("post", "svc-post", 'client_auth = "client_secret_post"') +
        clientCredentials("jwt", "svc-jwt", 'client_auth = "private_key_jwt"\nkey_id = "client-1"'),
    );
    try {
      await setSecret(box, "basic", provider.clients.basicSecret);
      await setSecret(box, "post", provider.clients.basicSecret);
      await setSecret(box, "jwt", provider.clients.jwtKeyPem);
      await box.start();
      for (const [name, clientId] of [
        ["basic", "svc-basic"],
        ["post", "svc-post"],
        ["jwt", "svc-jwt"],
      ] as const) {
        const r = await box.run(["get", name, "--json"]);
        expect(r.stderr).toBe("");
        const body = JSON.parse(r.stdout);
        expect(body.token_type).toBe("Bearer");
        expect(body.expires_in).toBeLessThanOrEqual(TTL);
        const { payload } = await verify(body.token);
        expect(payload.client_id).toBe(clientId);
        expect(payload.scope).toBe("api:read");
      }
    } finally {
      await box.cleanup();
    }
  });

  test("a wrong client secret is a clear error that names the fix and not the secret", async () => {
    const box = oauthSandbox(clientCredentials("bad", "svc-basic"));
    try {
      await setSecret(box, "bad", "not-the-right-secret");
      await box.start();
      const r = await box.run(["get", "bad"]);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain("invalid_client");
      expect(r.stderr).toContain("credagent secret set bad");
      expect(r.stderr).not.toContain("not-the-right-secret");
      const missing = oauthSandbox(clientCredentials("nosecret", "svc-basic"));
      try {
        await missing.start();
        expect((await missing.run(["get", "nosecret"])).stderr).toContain("no client secret is stored for 'nosecret'");
      } finally {
        await missing.cleanup();
      }
    } finally {
      await box.cleanup();
    }
  });

  test("over several lifetimes get never returns an expired token, and the provider is asked about once per lifetime", async () => {
    const box = oauthSandbox(clientCredentials("steady", "svc-post", 'client_auth = "client_secret_post"'));
    try {
      await setSecret(box, "steady", provider.clients.basicSecret);
      await box.start();
      const before = (await provider.stats()).client_credentials ?? 0;
      let requests = 0;
      const seen = new Set<string>();
      const end = Date.now() + 4 * TTL * 1000;
      while (Date.now() < end) {
        const res = await box.request("GET", "/v1/credentials/steady");
        const at = Date.now();
        expect(res.status).toBe(200);
        const body = JSON.parse(res.body);
        expect(Date.parse(body.expires_at)).toBeGreaterThan(at);
        const { payload } = await verify(body.token);
        expect(payload.exp! * 1000).toBeGreaterThan(at);
        seen.add(body.token);
        requests += 1;
        await Bun.sleep(100);
      }
      const calls = ((await provider.stats()).client_credentials ?? 0) - before;
      expect(requests).toBeGreaterThan(50);
      // 12 s of 3 s tokens refreshed at 70-80%: about 5 calls, never one per request.
      expect(calls).toBeGreaterThanOrEqual(4);
      expect(calls).toBeLessThanOrEqual(8);
      // Every token fetched was served, but for one a background refresh may have fetched just
      // after the last request.
      expect(seen.size).toBeGreaterThanOrEqual(calls - 1);
      expect(seen.size).toBeLessThanOrEqual(calls);
    } finally {
      await box.cleanup();
    }
  }, 30_000);

  test("provider down: the last token is served until it expires, then 503 with the reason; recovery after it returns", async () => {
    const box = oauthSandbox(clientCredentials("outage", "svc-basic"));
    try {
      await setSecret(box, "outage", provider.clients.basicSecret);
      await box.start();
      const first = JSON.parse((await box.run(["get", "outage", "--json"])).stdout);
      await provider.stop();
      const expiresAt = Date.parse(first.expires_at);
      // Until the token expires it keeps being served, although refreshes fail.
      while (Date.now() < expiresAt - 300) {
        const r = await box.request("GET", "/v1/credentials/outage");
        expect(r.status).toBe(200);
        expect(JSON.parse(r.body).token).toBe(first.token);
        await Bun.sleep(200);
      }
      await waitFor(() => Date.now() > expiresAt + 100, 5_000, "expiry");
      const down = await box.request("GET", "/v1/credentials/outage");
      expect(down.status).toBe(503);
      const error = JSON.parse(down.body).error;
      expect(error.code).toBe("unavailable");
      expect(error.message).toContain(`cannot reach the identity provider at ${provider.issuer}`);
      const list = JSON.parse((await box.request("GET", "/v1/credentials")).body).credentials[0];
      expect(list.state).toBe("failing");

      await provider.start();
      const back = Date.now();
      await waitFor(async () => (await box.request("GET", "/v1/credentials/outage")).status === 200, 20_000, "recovery");
      // The failures so far came 1, 2, 4 s apart: the next retry is at most 8 s (+20% jitter) away.
      expect(Date.now() - back).toBeLessThan(8_000 * 1.2 + 1_000);
    } finally {
      await box.cleanup();
      await provider.start().catch(() => {});
    }
  }, 40_000);

  test("a provider that accepts but never answers times out with a clear message", async () => {
    const silent = net.createServer(() => {});
    await new Promise<void>((r) => silent.listen(0, "127.0.0.1", () => r()));
    const port = (silent.address() as net.AddressInfo).port;
    const box = oauthSandbox(
      `[credentials.slow]\nsource = "oauth2"\ngrant = "client_credentials"\ntoken_endpoint = "http://127.0.0.1:${port}/token"\nclient_id = "x"\nhttp_timeout = "1s"\n`,
    );
    try {
      await setSecret(box, "slow", "s");
      await box.start();
      const started = Date.now();
      const r = await box.run(["get", "slow"]);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(`the identity provider at http://127.0.0.1:${port} did not answer within 1s`);
      expect(Date.now() - started).toBeLessThan(5_000);
    } finally {
      silent.close();
      await box.cleanup();
    }
  });
});

describe("device_code login and refresh tokens", () => {
  const deviceConfig = () =>
    `[credentials.dev]\nsource = "oauth2"\ngrant = "device_code"\nissuer = "${provider.issuer}"\nclient_id = "device-app"\nscope = "openid offline_access api:read"\n`;

  async function login(box: Sandbox): Promise<void> {
    const proc = Bun.spawn([BIN, "login", "dev"], { env: box.env, stdout: "pipe", stderr: "pipe" });
    const reader = proc.stderr.getReader();
    let text = "";
    while (!/user_code=\S+\)/.test(text)) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`login ended early: ${text}`);
      text += new TextDecoder().decode(value);
    }
    expect(text).toContain(`open ${provider.issuer}/device`);
    expect(text).toMatch(/enter the code [A-Z]{4}-[A-Z]{4}/);
    const uri = /\(or open (\S+)\)/.exec(text)![1]!;
    await approveDevice(uri);
    let rest = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      rest += new TextDecoder().decode(value);
    }
    expect(await proc.exited).toBe(0);
    expect(text + rest).toContain("'dev' is signed in");
  }

  test("on a terminal, login shows the complete address as a QR code and a spinner", async () => {
    const box = oauthSandbox(deviceConfig());
    try {
      await box.start();
      const r = Bun.spawnSync(
        [
          "python3",
          join(import.meta.dir, "../support/pty-run.py"),
          JSON.stringify([["waiting for the sign-in", "\u0003"]]),
          BIN,
          "login",
          "dev",
        ],
        { env: box.env },
      );
      const { output } = JSON.parse(r.stdout.toString()) as { output: string };
      expect(output).toMatch(/enter the code [A-Z]{4}-[A-Z]{4}/);
      expect(output).toContain("█▀▀▀▀▀▀▀█");
      expect(output).toContain("waiting for the sign-in to be approved");
    } finally {
      await box.cleanup();
    }
  });

  const storedRefreshToken = async (box: Sandbox) =>
    (await (await FileStore.open(join(box.root, "data/credagent/store"), new Secret(PASSPHRASE))).get("refresh:dev"))?.reveal();

  test("login, refresh with a rotated refresh token that survives an agent restart, then login_required once revoked", async () => {
    const box = oauthSandbox(deviceConfig());
    try {
      await box.start();
      const before = await box.run(["get", "dev"]);
      expect(before.code).toBe(1);
      expect(before.stderr).toContain("run: credagent login dev");
      expect((await box.run(["status"])).stdout).toMatch(/dev\s+oauth2\s+login required/);

      await login(box);
      const first = JSON.parse((await box.run(["get", "dev", "--json"])).stdout);
      expect((await verify(first.token)).payload.scope).toContain("api:read");
      const rt1 = await storedRefreshToken(box);
      // The store holds a refresh token this provider issued (not just some value).
      expect(await provider.issuedRefreshTokens()).toContain(rt1!);

      // Background refreshes rotate the refresh token; the new one is stored at once.
      await waitFor(async () => (await storedRefreshToken(box)) !== rt1, 10_000, "a rotated refresh token");
      const rotated = await storedRefreshToken(box);
      expect((await provider.issuedRefreshTokens()).indexOf(rotated!)).toBeGreaterThan(
        (await provider.issuedRefreshTokens()).indexOf(rt1!),
      );
      expect((await provider.stats()).refresh_token).toBeGreaterThanOrEqual(1);

      // A restart after the cached access token expired must refresh with the stored (rotated) one.
      expect((await box.run(["stop"])).code).toBe(0);
      await Bun.sleep(TTL * 1000 + 200);
      await box.start();
      const afterRestart = await box.run(["get", "dev", "--json"]);
      expect(afterRestart.code).toBe(0);
      await verify(JSON.parse(afterRestart.stdout).token);

      // Revoke the current refresh token at the provider: the next refresh fails fast into login_required.
      const current = (await storedRefreshToken(box))!;
      const revoked = await fetch(`${provider.issuer}/token/revocation`, {
        method: "POST",
        body: new URLSearchParams({ token: current, token_type_hint: "refresh_token", client_id: "device-app" }),
      });
      expect(revoked.status).toBe(200);
      await waitFor(
        async () => (await box.run(["status"])).stdout.includes("login required"),
        10_000,
        "login_required after the revoked refresh token",
      );
      // The access token in hand is still served until it expires; after that, failure comes at once.
      const held = JSON.parse((await box.request("GET", "/v1/credentials")).body).credentials[0];
      if (held.expires_at) await waitFor(() => Date.now() > Date.parse(held.expires_at), 5_000, "the held token to expire");
      const started = Date.now();
      const r = await box.run(["get", "dev"]);
      expect(Date.now() - started).toBeLessThan(1_000);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain("sign in again with: credagent login dev");
      expect(box.agentLog).not.toContain(current);
    } finally {
      await box.cleanup();
    }
  }, 60_000);
});
