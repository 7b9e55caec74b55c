import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createRemoteJWKSet, jwtVerify } from "jose";
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { approveDevice } from "../support/device-approve.ts";
import { TestProvider } from "../support/oidc.ts";
import { BIN, countingSource, Sandbox } from "./harness.ts";

// The Google metadata endpoint with the clients that need more of it than google-auth-library's
// access tokens (sdk-endpoints.test.ts): Debian's google-auth 1.5 (it reads GCE_METADATA_ROOT),
// gcloud (numeric-project-id, the account listing, its own token cache), and ID tokens, which the
// agent gets from a real OpenID provider: the id_token it issues for its client id, and, by token
// exchange (RFC 8693), one for any other audience. Each is checked against the provider's JWKS.

const REPO = resolve(import.meta.dir, "../..");
const PYTHON = "/usr/bin/python3";
const NODE = Bun.which("node");
const GCLOUD = existsSync("/usr/bin/gcloud") ? "/usr/bin/gcloud" : null;
const SETPRIV = Bun.which("setpriv");
const NOBODY = 65534;
const PASSPHRASE = "sdk-google-passphrase";
const EMAIL = "sa@proj-1.iam.gserviceaccount.com";
const AUDIENCE = "https://run.credagent.test/app";
const hasGoogleAuth = existsSync("/usr/lib/python3/dist-packages/google/auth/compute_engine");
if (!hasGoogleAuth && process.env.CI === "true")
  throw new Error("CI=true and Debian's python3-google-auth is missing: test/run.sh installs it");
if (!hasGoogleAuth) console.warn("skipping the google-auth 1.x test: Debian's python3-google-auth is not installed");
if (!NODE) throw new Error("node is needed for the SDK tests (the SDKs are run under Node, as their users run them)");
// gcloud is in neither Debian nor npm (Google ships google-cloud-cli from its own repository):
// test/run.sh cannot install it, so it is no part of the suite (which never skips under CI). Its
// test runs only when asked for, where gcloud is installed: CREDAGENT_TEST_GCLOUD=1. What gcloud
// reads from the metadata server is tested below with raw requests in any case.
const WITH_GCLOUD = process.env.CREDAGENT_TEST_GCLOUD === "1";
if (WITH_GCLOUD && !GCLOUD) throw new Error("CREDAGENT_TEST_GCLOUD=1 but gcloud (google-cloud-cli) is not installed at /usr/bin/gcloud");
const canSwitchUser = process.getuid!() === 0 && SETPRIV !== null;
if (!canSwitchUser) {
  if (process.env.CI === "true") throw new Error("CI=true but the other-user test cannot run: it needs root and setpriv");
  console.warn("skipping the other-user test of the identity path: it needs root and setpriv");
}

let provider: TestProvider;
let box: Sandbox;
let gcp: ReturnType<typeof countingSource>;
let sdkEnv: Record<string, string>;
let base: string;
const flavor = { "Metadata-Flavor": "Google" };

async function readSdkEnv(): Promise<Record<string, string>> {
  const r = await box.run(["env", "--sdk", "-s"]);
  if (r.code !== 0) throw new Error(`env --sdk failed: ${r.stderr}`);
  return Object.fromEntries([...r.stdout.matchAll(/^([A-Z_]+)=([^;]*); export/gm)].map((m) => [m[1]!, m[2]!.replace(/^'|'$/g, "")]));
}

/** `credagent login dev`, approved at the provider as a person would. */
async function login(): Promise<void> {
  const proc = Bun.spawn([BIN, "login", "dev"], { env: box.env, stdout: "pipe", stderr: "pipe" });
  const reader = proc.stderr.getReader();
  let text = "";
  while (!/\(or open (\S+)\)/.test(text)) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`login ended early: ${text}`);
    text += new TextDecoder().decode(value);
  }
  await approveDevice(/\(or open (\S+)\)/.exec(text)![1]!);
  reader.releaseLock();
  if ((await proc.exited) !== 0) throw new Error("login failed");
}

async function verify(jwt: string, audience: string) {
  return jwtVerify(jwt, createRemoteJWKSet(new URL(`${provider.issuer}/jwks`)), { issuer: provider.issuer, audience });
}

/** `credagent exec --sdk -- argv`, with gcloud's configuration kept in the sandbox. */
async function sdkExec(argv: string[], timeoutMs = 100_000) {
  return box.run(["exec", "--sdk", "--", ...argv], {
    timeoutMs,
    env: {
      CLOUDSDK_CONFIG: join(box.root, "gcloud"),
      CLOUDSDK_CORE_DISABLE_PROMPTS: "1",
      CLOUDSDK_CORE_DISABLE_USAGE_REPORTING: "true",
      // gcloud's "on GCE?" check gives up after 3 s by default and caches a no; a busy machine can be slower.
      CLOUDSDK_COMPUTE_GCE_METADATA_CHECK_TIMEOUT_SEC: "30",
    },
  });
}

beforeAll(async () => {
  provider = await TestProvider.create(3600);
  box = new Sandbox();
  box.env.CREDAGENT_FILE_PASSPHRASE = PASSPHRASE;
  // Tokens of 200 s: inside every client's own refresh threshold (gcloud's 3m45s), so each run
  // asks the agent again instead of using a copy it cached.
  gcp = countingSource(box, "gcp", 200);
  box.writeConfig(
    `keyring = "file"\n\n[endpoints]\ngcp = "gcp"\ngcp_project = "proj-1"\ngcp_project_number = 123456789012\ngcp_email = "${EMAIL}"\ngcp_id_token = "dev"\n\n` +
      `[credentials.gcp]\nsource = "command"\ncommand = ["${gcp.script}"]\n\n` +
      `[credentials.dev]\nsource = "oauth2"\ngrant = "device_code"\nissuer = "${provider.issuer}"\nclient_id = "device-app"\nscope = "openid offline_access api:read"\n`,
  );
  await box.start();
  await login();
  sdkEnv = await readSdkEnv();
  base = `http://${sdkEnv.GCE_METADATA_HOST}/computeMetadata/v1`;
}, 60_000);

afterAll(async () => {
  await box?.cleanup();
  await provider?.close();
});

test("env --sdk prints GCE_METADATA_ROOT (google-auth 1.x, gcloud) beside GCE_METADATA_HOST and GCE_METADATA_IP", () => {
  expect(sdkEnv.GCE_METADATA_ROOT).toMatch(/^127\.0\.0\.1:\d+$/);
  expect(sdkEnv.GCE_METADATA_ROOT).toBe(sdkEnv.GCE_METADATA_HOST!);
  expect(sdkEnv.GCE_METADATA_IP).toBe(sdkEnv.GCE_METADATA_HOST!);
});

test.skipIf(!hasGoogleAuth)(
  "google-auth 1.5 (Debian): google.auth.default() finds the server, refresh() gets the token, the project and the account; a new token after refresh",
  async () => {
    const script = join(box.root, "google_auth.py");
    writeFileSync(
      script,
      [
        "import json, google.auth, google.auth.transport.requests",
        "credentials, project = google.auth.default()",
        "credentials.refresh(google.auth.transport.requests.Request())",
        "print(json.dumps({'token': credentials.token, 'project': project, 'email': credentials.service_account_email, 'kind': type(credentials).__module__}))",
      ].join("\n"),
    );
    const first = await sdkExec([PYTHON, script]);
    expect(first.stderr).toBe("");
    expect(JSON.parse(first.stdout)).toEqual({
      token: `gcp-${gcp.count()}`,
      project: "proj-1",
      email: EMAIL,
      kind: "google.auth.compute_engine.credentials",
    });
    expect((await box.run(["refresh", "gcp"])).code).toBe(0);
    const second = await sdkExec([PYTHON, script]);
    expect(JSON.parse(second.stdout).token).toBe(`gcp-${gcp.count()}`);
    expect(JSON.parse(second.stdout).token).not.toBe(JSON.parse(first.stdout).token);
  },
  60_000,
);

describe("ID tokens", () => {
  const idTokenApp = (audience: string) => `
import { createRequire } from "node:module";
const require = createRequire(${JSON.stringify(join(REPO, "package.json"))});
const { GoogleAuth } = require("google-auth-library");
try {
  const client = await new GoogleAuth().getIdTokenClient(${JSON.stringify(audience)});
  console.log(JSON.stringify({ token: await client.idTokenProvider.fetchIdToken(${JSON.stringify(audience)}) }));
} catch (err) {
  console.log(JSON.stringify({ error: err.message }));
}
`;
  async function nodeIdToken(audience: string): Promise<{ token?: string; error?: string }> {
    const path = join(box.root, "id-token.mjs");
    writeFileSync(path, idTokenApp(audience));
    const r = await sdkExec([NODE!, path]);
    return JSON.parse(r.stdout.trim().split("\n").at(-1)!);
  }

  test("google-auth-library (Node): the provider's own id_token for its client id, verified against its JWKS", async () => {
    const r = await nodeIdToken("device-app");
    expect(r.error).toBeUndefined();
    const { payload } = await verify(r.token!, "device-app");
    expect(payload.exp! * 1000).toBeGreaterThan(Date.now() + 60_000);
    // After a refresh, the id_token of the refresh grant's answer.
    expect((await box.run(["refresh", "dev"])).code).toBe(0);
    const after = await nodeIdToken("device-app");
    expect(after.token).not.toBe(r.token);
    await verify(after.token!, "device-app");
    // The one that came with the access token: no exchange.
    expect((await provider.stats())["urn:ietf:params:oauth:grant-type:token-exchange"]).toBeUndefined();
  }, 60_000);

  test("google-auth-library (Node): another audience by token exchange (RFC 8693), verified against the JWKS, kept for the next request", async () => {
    const r = await nodeIdToken(AUDIENCE);
    expect(r.error).toBeUndefined();
    const { payload } = await verify(r.token!, AUDIENCE);
    expect(payload.azp).toBe("device-app");
    expect(payload.exp! * 1000).toBeGreaterThan(Date.now() + 60_000);
    const again = await fetch(`${base}/instance/service-accounts/default/identity?audience=${encodeURIComponent(AUDIENCE)}&format=full`, {
      headers: flavor,
    });
    expect(again.status).toBe(200);
    expect(again.headers.get("content-type")).toBe("application/text");
    expect(await again.text()).toBe(r.token!);
    expect((await provider.stats())["urn:ietf:params:oauth:grant-type:token-exchange"]).toBe(1);
  }, 60_000);

  test("refusals: no audience, a bad format, HEAD (no exchange), another user; a locked agent serves none", async () => {
    const url = (q: string) => `${base}/instance/service-accounts/default/identity${q}`;
    const exchanges = async () => (await provider.stats())["urn:ietf:params:oauth:grant-type:token-exchange"] ?? 0;
    const before = await exchanges();
    const none = await fetch(url(""), { headers: flavor });
    expect(none.status).toBe(400);
    expect(await none.text()).toContain("non-empty audience parameter required");
    expect((await fetch(url("?audience=x&format=compact"), { headers: flavor })).status).toBe(400);
    const head = await fetch(url("?audience=https://head.credagent.test"), { method: "HEAD", headers: flavor });
    expect(head.status).toBe(405);
    expect(head.headers.get("allow")).toBe("GET");
    expect((await fetch(url("?audience=x"))).status).toBe(403);
    expect(await exchanges()).toBe(before);
    if (canSwitchUser) {
      const dir = mkdtempSync("/tmp/ca-gcp-");
      try {
        chmodSync(dir, 0o755);
        const r = Bun.spawnSync(
          [
            SETPRIV!,
            `--reuid=${NOBODY}`,
            `--regid=${NOBODY}`,
            "--clear-groups",
            "curl",
            "-s",
            "-i",
            "-H",
            "Metadata-Flavor: Google",
            url(`?audience=${AUDIENCE}`),
          ],
          { stdout: "pipe", stderr: "pipe", cwd: dir, timeout: 20_000 },
        );
        const out = r.stdout.toString();
        // Refused at accept: no answer at all, or a 403.
        expect(out === "" || /^HTTP\/1\.1 403/.test(out)).toBe(true);
        expect(out).not.toContain("eyJ");
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }
    expect((await box.run(["lock", "--stdin"], { input: "sdk-google-lock\n" })).code).toBe(0);
    try {
      expect((await fetch(url(`?audience=${encodeURIComponent(AUDIENCE)}`), { headers: flavor })).status).toBe(423);
    } finally {
      expect((await box.run(["unlock", "--stdin"], { input: "sdk-google-lock\n" })).code).toBe(0);
    }
  }, 60_000);
});

test("what gcloud and google-auth read, as the metadata server answers it", async () => {
  const numeric = await fetch(`${base}/project/numeric-project-id`, { headers: flavor });
  expect(await numeric.text()).toBe("123456789012");
  expect(numeric.headers.get("metadata-flavor")).toBe("Google");
  expect(numeric.headers.get("server")).toBe("Metadata Server for VM");
  const listing = await fetch(`${base}/instance/service-accounts/?recursive=true`, { headers: flavor });
  expect(listing.headers.get("content-type")).toBe("application/json");
  expect(await listing.json()).toMatchObject({ default: { email: EMAIL, aliases: ["default"] }, [EMAIL]: { email: EMAIL } });
  const token = await fetch(`${base}/instance/service-accounts/${EMAIL}/token?scopes=https://www.googleapis.com/auth/cloud-platform`, {
    headers: flavor,
  });
  expect(((await token.json()) as { access_token: string }).access_token).toBe(`gcp-${gcp.count()}`);
  const forwarded = await fetch(`${base}/project/project-id`, { headers: { ...flavor, "X-Forwarded-For": "203.0.113.9" } });
  expect(forwarded.status).toBe(403);
  // HEAD on the token path fetches nothing (issue 21: it used to run the source).
  const runs = gcp.count();
  const head = await fetch(`${base}/instance/service-accounts/default/token`, { method: "HEAD", headers: flavor });
  expect([head.status, head.headers.get("allow"), head.headers.get("metadata-flavor")]).toEqual([405, "GET", "Google"]);
  expect(gcp.count()).toBe(runs);
});

// Three gcloud runs (about 2 s each on an idle machine; a busy one is much slower).
(WITH_GCLOUD ? test : () => {})(
  "gcloud (google-cloud-cli, where installed): print-access-token, a new one after refresh, and print-identity-token --audiences",
  async () => {
    const first = await sdkExec([GCLOUD!, "auth", "print-access-token"]);
    expect(first.stderr).not.toContain("ERROR");
    expect(first.stdout.trim()).toBe(`gcp-${gcp.count()}`);
    expect((await box.run(["refresh", "gcp"])).code).toBe(0);
    const second = await sdkExec([GCLOUD!, "auth", "print-access-token"]);
    expect(second.stdout.trim()).toBe(`gcp-${gcp.count()}`);
    expect(second.stdout.trim()).not.toBe(first.stdout.trim());
    // The account is the metadata server's (gcp_email); the token the provider's, by exchange.
    const id = await sdkExec([GCLOUD!, "auth", "print-identity-token", `--audiences=${AUDIENCE}`, `--account=${EMAIL}`]);
    expect(id.stderr).not.toContain("ERROR");
    const { payload } = await verify(id.stdout.trim(), AUDIENCE);
    expect(payload.exp! * 1000).toBeGreaterThan(Date.now() + 60_000);
  },
  300_000,
);
