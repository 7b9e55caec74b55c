import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { countingSource, Sandbox } from "./harness.ts";

// The cloud SDKs, unchanged, under plain Node, getting their tokens from the compiled agent's
// loopback endpoints: each gets the token the agent holds, a new one after `credagent refresh`,
// and is refused without the endpoint secret (Azure, AWS) or as another user (Google).

const REPO = resolve(import.meta.dir, "../..");
const NODE = Bun.which("node");
const SETPRIV = Bun.which("setpriv");
const NOBODY = 65534;
const DB_RESOURCE = "https://ossrdbms-aad.database.windows.net";
const canSwitchUser = process.getuid!() === 0 && SETPRIV !== null;
if (!NODE) throw new Error("node is needed for the SDK tests (the SDKs are run under Node, as their users run them)");
if (!canSwitchUser) {
  if (process.env.CI === "true") throw new Error("CI=true but the other-user test cannot run: it needs root and setpriv");
  console.warn("skipping the other-user test of the Google endpoint: it needs root and setpriv");
}

let box: Sandbox;
let db: ReturnType<typeof countingSource>;
let gcp: ReturnType<typeof countingSource>;
/** An aws credential: credential_process output with a new key at each run (the run count in its id). */
function awsScript(): string {
  return box.script(
    "aws.sh",
    `n=$(($(cat ${box.root}/aws.count 2>/dev/null || echo 0) + 1)); echo $n > ${box.root}/aws.count\n` +
      `exp=$(date -u -d '+1 hour' +%Y-%m-%dT%H:%M:%SZ)\n` +
      `printf '{"Version":1,"AccessKeyId":"AKIAEXAMPLE%s","SecretAccessKey":"secret-key-%s","SessionToken":"session-%s","Expiration":"%s"}' $n $n $n $exp`,
  );
}
const awsCount = () => Number(readFileSync(join(box.root, "aws.count"), "utf8").trim());
let sdkEnv: Record<string, string>;
// Scripts another user can read (the sandbox is 0700).
let shared: string;

/** `credagent env --sdk -s` parsed: what a user's `eval` would set. */
async function readSdkEnv(): Promise<Record<string, string>> {
  const r = await box.run(["env", "--sdk", "-s"]);
  if (r.code !== 0) throw new Error(`env --sdk failed: ${r.stderr}`);
  return Object.fromEntries([...r.stdout.matchAll(/^([A-Z_]+)=([^;]*); export/gm)].map((m) => [m[1]!, m[2]!.replace(/^'|'$/g, "")]));
}

/** Runs a Node script that prints one JSON line; the SDKs resolve from this repository's node_modules. */
function runNode(
  name: string,
  body: string,
  env: Record<string, string>,
  options: { prefix?: string[]; dir?: string } = {},
): { code: number; out: any; stderr: string } {
  const path = join(options.dir ?? box.root, name);
  writeFileSync(
    path,
    `import { createRequire } from "node:module";\nconst require = createRequire(${JSON.stringify(join(REPO, "package.json"))});\n${body}`,
    { mode: 0o644 },
  );
  const r = Bun.spawnSync([...(options.prefix ?? []), NODE!, path], {
    env: { ...box.env, ...env },
    stdout: "pipe",
    stderr: "pipe",
    timeout: 60_000,
  });
  const stdout = r.stdout.toString().trim();
  let out: unknown = null;
  try {
    out = JSON.parse(stdout.split("\n").at(-1) ?? "");
  } catch {
    out = stdout;
  }
  return { code: r.exitCode ?? -1, out, stderr: r.stderr.toString() };
}

beforeAll(async () => {
  box = new Sandbox();
  shared = mkdtempSync("/tmp/ca-sdk-");
  chmodSync(shared, 0o755);
  db = countingSource(box, "db", 3600);
  gcp = countingSource(box, "gcp", 3600);
  box.writeConfig(
    `[endpoints]\nazure = true\ngcp = "gcp"\ngcp_project = "proj-1"\naws = "aws"\n\n` +
      `[credentials.aws]\nsource = "command"\ncommand = ["${awsScript()}"]\n\n` +
      `[credentials.db]\nsource = "command"\ncommand = ["${db.script}"]\nresource = "${DB_RESOURCE}"\n\n` +
      `[credentials.gcp]\nsource = "command"\ncommand = ["${gcp.script}"]\n\n` +
      `[credentials.locked-down]\nsource = "command"\ncommand = ["${db.script}"]\nresource = "https://vault.azure.net"\nallow = [ { exe = "/usr/bin/psql" } ]\n`,
  );
  await box.start();
  sdkEnv = await readSdkEnv();
}, 60_000);

afterAll(async () => {
  await box?.cleanup();
  if (shared) rmSync(shared, { recursive: true, force: true });
});

test("env --sdk prints the endpoints' variables; the secret is in none of the agent's argv or log", async () => {
  expect(sdkEnv.IDENTITY_ENDPOINT).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/msi\/token$/);
  expect(sdkEnv.IDENTITY_HEADER).toMatch(/^[0-9a-f]{64}$/);
  const port = new URL(sdkEnv.IDENTITY_ENDPOINT!).port;
  expect(sdkEnv.GCE_METADATA_HOST).toBe(`127.0.0.1:${port}`);
  expect(sdkEnv.GCE_METADATA_IP).toBe(`127.0.0.1:${port}`);
  expect(sdkEnv.GCE_METADATA_ROOT).toBe(`127.0.0.1:${port}`);
  expect(sdkEnv.GOOGLE_CLOUD_PROJECT).toBe("proj-1");
  expect(sdkEnv.AWS_CONTAINER_CREDENTIALS_FULL_URI).toBe(`http://127.0.0.1:${port}/aws/credentials`);
  expect(sdkEnv.AWS_CONTAINER_AUTHORIZATION_TOKEN).toBe(sdkEnv.IDENTITY_HEADER);
  const pid = Number(((await (await fetch("http://localhost/v1/health", { unix: box.socket })).json()) as { pid: number }).pid);
  expect(readFileSync(`/proc/${pid}/cmdline`, "utf8")).not.toContain(sdkEnv.IDENTITY_HEADER!);
  expect(box.agentLog).not.toContain(sdkEnv.IDENTITY_HEADER!);
  expect(box.agentLog).toContain("SDK endpoints listening");
});

describe("Azure (@azure/identity)", () => {
  const azureApp = `
const { ManagedIdentityCredential, DefaultAzureCredential } = require("@azure/identity");
const scope = ${JSON.stringify(`${DB_RESOURCE}/.default`)};
const out = {};
for (const [name, credential] of [["mi", new ManagedIdentityCredential()], ...(process.env.MI_ONLY ? [] : [["dac", new DefaultAzureCredential()]])]) {
  try {
    const t = await credential.getToken(scope);
    out[name] = { token: t.token, expiresOn: t.expiresOnTimestamp };
  } catch (err) {
    out[name] = { error: err.name, message: err.message };
  }
}
console.log(JSON.stringify(out));
`;

  test("ManagedIdentityCredential and DefaultAzureCredential get the agent's token for a database, and a new one after refresh", async () => {
    const first = runNode("azure.mjs", azureApp, sdkEnv);
    expect(first.code).toBe(0);
    expect(first.out.mi.token).toMatch(/^db-\d+$/);
    expect(first.out.dac.token).toBe(first.out.mi.token);
    // expires_on (epoch seconds) understood: about an hour from now.
    expect(Math.abs(first.out.mi.expiresOn - (Date.now() + 3600_000))).toBeLessThan(120_000);
    expect((await box.run(["refresh", "db"])).code).toBe(0);
    const second = runNode("azure.mjs", azureApp, sdkEnv);
    expect(second.out.mi.token).toMatch(/^db-\d+$/);
    expect(second.out.mi.token).not.toBe(first.out.mi.token);
    expect(second.out.mi.token).toBe(`db-${db.count()}`);
  }, 90_000);

  test("credagent exec --sdk gives the child the variables (and only the child)", async () => {
    const path = join(box.root, "azure-exec.mjs");
    writeFileSync(
      path,
      `import { createRequire } from "node:module";\nconst require = createRequire(${JSON.stringify(join(REPO, "package.json"))});\n${azureApp}`,
    );
    const r = await box.run(["exec", "--sdk", "--", NODE!, path], { timeoutMs: 60_000 });
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout.trim()).mi.token).toBe(`db-${db.count()}`);
    expect(box.env.IDENTITY_ENDPOINT).toBeUndefined();
  }, 90_000);

  test("refused without the secret, with a wrong one, and for a resource no credential names", async () => {
    const bare = await fetch(`${sdkEnv.IDENTITY_ENDPOINT}?api-version=2019-08-01&resource=${encodeURIComponent(DB_RESOURCE)}`);
    expect(bare.status).toBe(401);
    expect(await bare.text()).not.toContain("db-");
    // ManagedIdentityCredential alone: past a refusal DefaultAzureCredential tries the next
    // credentials of its chain, the Azure CLI's among them (seconds per try where az is installed).
    const wrong = runNode("azure-wrong.mjs", azureApp, { ...sdkEnv, IDENTITY_HEADER: "0".repeat(64), MI_ONLY: "1" });
    expect(wrong.out.mi.error).toBe("CredentialUnavailableError");
    expect(wrong.out.mi.message).toContain("X-IDENTITY-HEADER");
    expect(wrong.out.mi.token).toBeUndefined();
    const other = runNode("azure-other.mjs", azureApp.replace(`${DB_RESOURCE}/.default`, "https://storage.azure.com/.default"), {
      ...sdkEnv,
      MI_ONLY: "1",
    });
    expect(other.out.mi.message).toContain("no credential is configured for the resource https://storage.azure.com");
  }, 90_000);

  test("the credential's allow rules apply: a program cannot be identified on loopback, so rules naming one refuse, and the audit log says so", () => {
    const r = runNode("azure-vault.mjs", azureApp.replace(`${DB_RESOURCE}/.default`, "https://vault.azure.net/.default"), {
      ...sdkEnv,
      MI_ONLY: "1",
    });
    expect(r.out.mi.message).toContain("not for this process");
    const audit = readFileSync(join(box.stateDir, "credagent", "audit.log"), "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(audit.find((e) => e.credential === "locked-down")).toMatchObject({ event: "fetch", decision: "deny", uid: process.getuid!() });
    expect(audit.find((e) => e.credential === "db" && e.decision === "allow")).toMatchObject({
      event: "fetch",
      uid: process.getuid!(),
      pid: null,
    });
  });
});

describe("AWS (@aws-sdk/credential-providers)", () => {
  const awsApp = (provider: string) => `
const { ${provider} } = require("@aws-sdk/credential-providers");
try {
  const creds = await ${provider}()();
  console.log(JSON.stringify({ id: creds.accessKeyId, secret: creds.secretAccessKey, session: creds.sessionToken, expiration: creds.expiration?.toISOString() }));
} catch (err) {
  console.log(JSON.stringify({ error: err.message }));
}
`;
  // The default chain would try ~/.aws and the EC2 metadata service first: none here.
  const isolated = () => ({
    ...sdkEnv,
    AWS_CONFIG_FILE: join(box.root, "no-aws-config"),
    AWS_SHARED_CREDENTIALS_FILE: join(box.root, "no-aws-credentials"),
    AWS_EC2_METADATA_DISABLED: "true",
  });

  test("fromContainerMetadata and the default Node chain get the agent's key, and a new one after refresh", async () => {
    for (const provider of ["fromContainerMetadata", "fromNodeProviderChain"]) {
      const first = runNode(`aws-${provider}.mjs`, awsApp(provider), isolated());
      expect(first.code).toBe(0);
      const n = awsCount();
      expect(first.out).toMatchObject({ id: `AKIAEXAMPLE${n}`, secret: `secret-key-${n}`, session: `session-${n}` });
      expect(Date.parse(first.out.expiration) - Date.now()).toBeGreaterThan(3_000_000);
    }
    expect((await box.run(["refresh", "aws"])).code).toBe(0);
    const after = runNode("aws-after.mjs", awsApp("fromContainerMetadata"), isolated());
    expect(after.out.id).toBe(`AKIAEXAMPLE${awsCount()}`);
  }, 90_000);

  test("refused without the endpoint secret or with a wrong one, in the SDK's error shape", async () => {
    const url = sdkEnv.AWS_CONTAINER_CREDENTIALS_FULL_URI!;
    expect(url).toStartWith("http://127.0.0.1:");
    for (const headers of [{}, { authorization: "wrong" }] as Array<Record<string, string>>) {
      const r = await fetch(url, { headers });
      expect(r.status).toBe(401);
      const body = (await r.json()) as { Code: string; Message: string };
      expect(body.Code).toBe("AccessDenied");
      expect(JSON.stringify(body)).not.toContain("secret-key");
    }
    const sdk = runNode("aws-refused.mjs", awsApp("fromContainerMetadata"), { ...isolated(), AWS_CONTAINER_AUTHORIZATION_TOKEN: "wrong" });
    expect(sdk.out.error).toBeDefined();
    expect(JSON.stringify(sdk.out)).not.toContain("secret-key");
  }, 60_000);
});

describe("Google (google-auth-library)", () => {
  const googleApp = `
const { GoogleAuth } = require("google-auth-library");
const auth = new GoogleAuth({ scopes: ["https://www.googleapis.com/auth/cloud-platform"] });
try {
  const token = await auth.getAccessToken();
  const project = await auth.getProjectId();
  console.log(JSON.stringify({ token, project }));
} catch (err) {
  console.log(JSON.stringify({ error: err.message }));
}
`;

  test("GoogleAuth().getAccessToken() finds the metadata server and gets the agent's token, and a new one after refresh", async () => {
    const first = runNode("google.mjs", googleApp, sdkEnv);
    expect(first.code).toBe(0);
    expect(first.out.token).toMatch(/^gcp-\d+$/);
    expect(first.out.project).toBe("proj-1");
    expect((await box.run(["refresh", "gcp"])).code).toBe(0);
    const second = runNode("google.mjs", googleApp, sdkEnv);
    expect(second.out.token).toBe(`gcp-${gcp.count()}`);
    expect(second.out.token).not.toBe(first.out.token);
  }, 90_000);

  test("requests without Metadata-Flavor: Google are refused; answers carry it", async () => {
    const base = `http://${sdkEnv.GCE_METADATA_HOST}/computeMetadata/v1/instance/service-accounts/default/token`;
    const bare = await fetch(base);
    expect(bare.status).toBe(403);
    expect(await bare.text()).not.toContain("gcp-");
    const ok = await fetch(base, { headers: { "Metadata-Flavor": "Google" } });
    expect(ok.headers.get("metadata-flavor")).toBe("Google");
    expect(((await ok.json()) as { access_token: string }).access_token).toMatch(/^gcp-\d+$/);
    const recursive = await fetch(
      `http://${sdkEnv.GCE_METADATA_HOST}/computeMetadata/v1/instance/service-accounts/default/?recursive=true`,
      { headers: { "Metadata-Flavor": "Google" } },
    );
    expect(await recursive.json()).toMatchObject({ aliases: ["default"], scopes: ["https://www.googleapis.com/auth/cloud-platform"] });
    const project = await fetch(`http://${sdkEnv.GCE_METADATA_HOST}/computeMetadata/v1/project/project-id`, {
      headers: { "Metadata-Flavor": "Google" },
    });
    expect(await project.text()).toBe("proj-1");
    // No oauth2 credential to give ID tokens (gcp is a command): a refusal naming the setting.
    const identity = await fetch(
      `http://${sdkEnv.GCE_METADATA_HOST}/computeMetadata/v1/instance/service-accounts/default/identity?audience=https://x.example`,
      { headers: { "Metadata-Flavor": "Google" } },
    );
    expect(identity.status).toBe(404);
    expect(await identity.text()).toContain("set [endpoints] gcp_id_token");
    // Python's google-auth pings the root at GCE_METADATA_IP.
    const ping = await fetch(`http://${sdkEnv.GCE_METADATA_IP}/`, { headers: { "Metadata-Flavor": "Google" } });
    expect(ping.status).toBe(200);
    expect(ping.headers.get("metadata-flavor")).toBe("Google");
  });

  test.skipIf(!canSwitchUser)(
    "another user's process is refused (its uid, from the kernel's socket table), and the refusal is audited",
    () => {
      const before = gcp.count();
      const r = runNode("google-other.mjs", googleApp, sdkEnv, {
        prefix: [SETPRIV!, `--reuid=${NOBODY}`, `--regid=${NOBODY}`, "--clear-groups"],
        dir: shared,
      });
      expect(r.out.token).toBeUndefined();
      expect(JSON.stringify(r.out)).not.toContain("gcp-");
      expect(gcp.count()).toBe(before);
      const audit = readFileSync(join(box.stateDir, "credagent", "audit.log"), "utf8");
      expect(audit).toContain(`"uid":${NOBODY}`);
      expect(audit).toContain(`"door":"sdk-endpoints"`);
    },
    90_000,
  );

  test.skipIf(!canSwitchUser)(
    "another user on 127.0.0.2 with the port of the owner's open connection gets nothing, audited under its own uid",
    async () => {
      const [host, port] = sdkEnv.GCE_METADATA_HOST!.split(":") as [string, string];
      const net = await import("node:net");
      // The owner's SDK holds a connection open (keep-alive between requests).
      const victim = net.connect(Number(port), host);
      await new Promise((r, j) => victim.once("connect", r).once("error", j));
      try {
        const before = gcp.count();
        const script = join(shared, "steal.py");
        writeFileSync(
          script,
          [
            "import socket, sys",
            "s = socket.socket()",
            "s.settimeout(10)",
            "s.bind(('127.0.0.2', int(sys.argv[1])))",
            "s.connect(('127.0.0.1', int(sys.argv[2])))",
            "s.sendall(b'GET /computeMetadata/v1/instance/service-accounts/default/token HTTP/1.1\\r\\nHost: 127.0.0.1\\r\\nMetadata-Flavor: Google\\r\\nConnection: close\\r\\n\\r\\n')",
            "out = b''",
            "while True:",
            "    b = s.recv(65536)",
            "    if not b: break",
            "    out += b",
            "print(out.decode(errors='replace'))",
          ].join("\n"),
          { mode: 0o644 },
        );
        const r = Bun.spawnSync(
          [
            SETPRIV!,
            `--reuid=${NOBODY}`,
            `--regid=${NOBODY}`,
            "--clear-groups",
            "/usr/bin/python3",
            script,
            String(victim.localPort),
            port,
          ],
          { stdout: "pipe", stderr: "pipe", timeout: 30_000 },
        );
        const out = r.stdout.toString();
        expect(r.stderr.toString()).toBe("");
        expect(out).toMatch(/^HTTP\/1\.1 403/);
        expect(out).not.toContain("gcp-");
        expect(gcp.count()).toBe(before);
        const lines = readFileSync(join(box.stateDir, "credagent", "audit.log"), "utf8")
          .trim()
          .split("\n")
          .map((l) => JSON.parse(l));
        const last = lines.at(-1);
        expect(last).toMatchObject({ event: "connection", decision: "deny", uid: NOBODY });
        expect(lines.some((e) => e.decision === "allow" && e.uid === NOBODY)).toBe(false);
      } finally {
        victim.destroy();
      }
    },
    60_000,
  );
});

test("a locked agent serves nothing on the endpoints; a credential given a resource by reload is served at once", async () => {
  const url = `${sdkEnv.IDENTITY_ENDPOINT}?api-version=2019-08-01&resource=${encodeURIComponent("https://storage.azure.com")}`;
  const headers = { "X-IDENTITY-HEADER": sdkEnv.IDENTITY_HEADER! };
  expect((await fetch(url, { headers })).status).toBe(400);
  writeFileSync(
    box.configFile,
    `${readFileSync(box.configFile, "utf8")}\n[credentials.storage]\nsource = "command"\ncommand = ["${db.script}"]\nresource = "https://storage.azure.com/"\n`,
  );
  expect((await box.run(["reload"])).code).toBe(0);
  const served = await fetch(url, { headers });
  expect(served.status).toBe(200);
  expect(((await served.json()) as { access_token: string }).access_token).toMatch(/^db-\d+$/);
  expect((await box.run(["lock", "--stdin"], { input: "sdk-lock\n" })).code).toBe(0);
  try {
    const locked = await fetch(url, { headers });
    expect(locked.status).toBe(423);
    expect(await locked.text()).not.toContain("db-");
    const google = await fetch(`http://${sdkEnv.GCE_METADATA_HOST}/computeMetadata/v1/instance/service-accounts/default/token`, {
      headers: { "Metadata-Flavor": "Google" },
    });
    expect(google.status).toBe(423);
  } finally {
    expect((await box.run(["unlock", "--stdin"], { input: "sdk-lock\n" })).code).toBe(0);
  }
});

test("without [endpoints] nothing listens and env --sdk says how to enable them", async () => {
  const plain = new Sandbox();
  try {
    plain.writeConfig(`[credentials.x]\nsource = "command"\ncommand = ["/bin/true"]\n`);
    await plain.start();
    const r = await plain.run(["env", "--sdk"]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("[endpoints]");
    expect(plain.agentLog).not.toContain("SDK endpoints listening");
  } finally {
    await plain.cleanup();
  }
}, 60_000);
