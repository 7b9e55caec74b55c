import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Secret } from "../../../src/secret.ts";
import { commandSource } from "../../../src/sources/command.ts";
import { clientCredentialsSource } from "../../../src/sources/oauth/client-credentials.ts";
import type { OAuthOptions } from "../../../src/sources/oauth/options.ts";
import { cannotHeal, type TokenSource } from "../../../src/sources/source.ts";
import { staticSource } from "../../../src/sources/static.ts";
import { MemoryStore } from "../../../src/store/memory.ts";

// Which failures the sources mark as unable to heal by themselves (no background retries), and
// which they leave to the backoff. A scripted token endpoint on 127.0.0.1 plays the provider.

let reply: () => Response = () => new Response("{}");
const server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => reply() });
afterAll(() => server.stop(true));
const json = (body: unknown, status: number) =>
  new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });

async function failureOf(source: TokenSource): Promise<unknown> {
  try {
    await source.fetchToken({ signal: new AbortController().signal, now: Date.now() });
  } catch (err) {
    return err;
  }
  throw new Error("expected the fetch to fail");
}

function oauth(store: MemoryStore, extra: Partial<OAuthOptions> = {}): TokenSource {
  const options: OAuthOptions = {
    name: "api",
    grant: "client_credentials",
    tokenEndpoint: `http://127.0.0.1:${server.port}/token`,
    clientId: "app",
    clientAuth: "client_secret_basic",
    httpTimeoutMs: 2_000,
    defaultLifetimeMs: 60_000,
    ...extra,
  };
  return clientCredentialsSource(options, store);
}

describe("failures that cannot heal by themselves", () => {
  test("a static credential whose secret is not stored", async () => {
    expect(cannotHeal(await failureOf(staticSource("db", 60_000, new MemoryStore())))).toBe(true);
  });

  test("a command that does not exist or cannot be executed; not one that fails", async () => {
    const env = { PATH: process.env.PATH };
    const missing = await failureOf(commandSource({ command: ["/nonexistent/credagent-helper"], defaultLifetimeMs: 60_000, env }));
    expect(cannotHeal(missing)).toBe(true);
    expect((missing as Error).message).toContain("check the command in the config and your PATH");
    expect(cannotHeal(await failureOf(commandSource({ command: ["no-such-program-credagent"], defaultLifetimeMs: 60_000, env })))).toBe(
      true,
    );
    const dir = mkdtempSync(join(tmpdir(), "ca-heal-"));
    try {
      const notExecutable = join(dir, "helper");
      writeFileSync(notExecutable, "#!/bin/sh\necho token\n", { mode: 0o644 });
      const notExecutableText = join(dir, "text");
      writeFileSync(notExecutableText, "no interpreter line\n", { mode: 0o755 });
      for (const program of [notExecutable, notExecutableText]) {
        expect([program, cannotHeal(await failureOf(commandSource({ command: [program], defaultLifetimeMs: 60_000, env })))]).toEqual([
          program,
          true,
        ]);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    expect(cannotHeal(await failureOf(commandSource({ command: ["sh", "-c", "exit 3"], defaultLifetimeMs: 60_000, env })))).toBe(false);
  });

  test("oauth2: a missing client secret, invalid_client, unauthorized_client, invalid_scope; not a 503 or a refused connection", async () => {
    expect(cannotHeal(await failureOf(oauth(new MemoryStore())))).toBe(true);
    const store = new MemoryStore();
    await store.set("secret:api", new Secret("s3cret"));
    for (const error of ["invalid_client", "unauthorized_client", "invalid_scope", "unsupported_grant_type"]) {
      reply = () => json({ error }, error === "invalid_client" ? 401 : 400);
      const err = await failureOf(oauth(store));
      expect([error, cannotHeal(err)]).toEqual([error, true]);
      expect((err as Error).message).not.toContain("s3cret");
    }
    reply = () => json({ error: "temporarily_unavailable" }, 503);
    expect(cannotHeal(await failureOf(oauth(store)))).toBe(false);
    reply = () => new Response("<html>Bad Gateway</html>", { status: 502 });
    expect(cannotHeal(await failureOf(oauth(store)))).toBe(false);
    expect(cannotHeal(await failureOf(oauth(store, { tokenEndpoint: "http://127.0.0.1:1/token" })))).toBe(false);
  });

  test("private_key_jwt with something else than a PKCS#8 key stored", async () => {
    const store = new MemoryStore();
    await store.set("secret:api", new Secret("not a key"));
    expect(cannotHeal(await failureOf(oauth(store, { clientAuth: "private_key_jwt" })))).toBe(true);
  });
});
