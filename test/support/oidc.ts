import { exportJWK, exportPKCS8, generateKeyPair } from "jose";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { freePort } from "./ports.ts";

// Starts the real oidc-provider (test/support/oidc-provider.mjs) under Node on 127.0.0.1 with
// the clients the OAuth tests need; can stop it and start it again on the same port and keys.

export interface ProviderClients {
  basicSecret: string;
  /** PKCS#8 PEM of the private_key_jwt client's key. */
  jwtKeyPem: string;
}

export class TestProvider {
  readonly issuer: string;
  #proc: ReturnType<typeof Bun.spawn> | undefined;

  private constructor(
    readonly port: number,
    private readonly configFile: string,
    readonly clients: ProviderClients,
  ) {
    this.issuer = `http://127.0.0.1:${port}`;
  }

  static async create(ttlSeconds: number): Promise<TestProvider> {
    const signing = await generateKeyPair("RS256", { extractable: true });
    const signingJwk = { ...(await exportJWK(signing.privateKey)), kid: "sig-1", alg: "RS256", use: "sig" };
    const client = await generateKeyPair("ES256", { extractable: true });
    const clientJwk = { ...(await exportJWK(client.publicKey)), kid: "client-1", alg: "ES256", use: "sig" };
    const basicSecret = `basic-${crypto.randomUUID()}`;
    const port = await freePort();
    const dir = mkdtempSync("/tmp/ca-op-");
    const configFile = join(dir, "provider.json");
    const none = { redirect_uris: [], response_types: [] };
    writeFileSync(
      configFile,
      JSON.stringify({
        port,
        ttl: ttlSeconds,
        jwks: { keys: [signingJwk] },
        clients: [
          {
            ...none,
            client_id: "svc-basic",
            client_secret: basicSecret,
            // Token exchange (oidc-provider.mjs): ID tokens for other audiences.
            grant_types: ["client_credentials", "urn:ietf:params:oauth:grant-type:token-exchange"],
            token_endpoint_auth_method: "client_secret_basic",
          },
          {
            ...none,
            client_id: "svc-post",
            client_secret: basicSecret,
            grant_types: ["client_credentials"],
            token_endpoint_auth_method: "client_secret_post",
          },
          {
            ...none,
            client_id: "svc-jwt",
            grant_types: ["client_credentials"],
            token_endpoint_auth_method: "private_key_jwt",
            jwks: { keys: [clientJwk] },
          },
          {
            ...none,
            client_id: "device-conf",
            client_secret: basicSecret,
            grant_types: ["urn:ietf:params:oauth:grant-type:device_code", "refresh_token"],
            token_endpoint_auth_method: "client_secret_basic",
          },
          {
            ...none,
            client_id: "device-app",
            grant_types: [
              "urn:ietf:params:oauth:grant-type:device_code",
              "refresh_token",
              "urn:ietf:params:oauth:grant-type:token-exchange",
            ],
            token_endpoint_auth_method: "none",
          },
        ],
      }),
    );
    const provider = new TestProvider(port, configFile, { basicSecret, jwtKeyPem: await exportPKCS8(client.privateKey) });
    try {
      await provider.start();
    } catch (err) {
      await provider.close();
      throw err;
    }
    return provider;
  }

  /** Starts the provider, unless it is running already (a second one would be left running untracked). */
  async start(): Promise<void> {
    if (this.#proc && this.#proc.exitCode === null && this.#proc.signalCode === null) return;
    const proc = Bun.spawn(["node", resolve(import.meta.dir, "oidc-provider.mjs"), this.configFile], { stdout: "pipe", stderr: "ignore" });
    this.#proc = proc;
    const reader = proc.stdout.getReader();
    let text = "";
    const deadline = Date.now() + 15_000;
    while (!text.includes("ready") && Date.now() < deadline) {
      const { value, done } = await reader.read();
      if (done) break;
      text += new TextDecoder().decode(value);
    }
    reader.releaseLock();
    if (!text.includes("ready")) throw new Error(`oidc-provider did not start: ${text}`);
  }

  async stop(): Promise<void> {
    this.#proc?.kill("SIGKILL");
    await this.#proc?.exited;
    this.#proc = undefined;
  }

  /** Stops the provider for good and removes its directory (stop() alone keeps it for a restart). */
  async close(): Promise<void> {
    await this.stop();
    rmSync(dirname(this.configFile), { recursive: true, force: true });
  }

  /** The refresh tokens issued so far, oldest first. */
  async issuedRefreshTokens(): Promise<string[]> {
    return (await fetch(`${this.issuer}/test/refresh-tokens`)).json() as Promise<string[]>;
  }

  /** Token endpoint calls so far, by grant type (and error:<grant> for failures). */
  async stats(): Promise<Record<string, number>> {
    return (await fetch(`${this.issuer}/test/stats`)).json() as Promise<Record<string, number>>;
  }
}
