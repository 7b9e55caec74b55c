import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { BIN, Sandbox, waitFor } from "./harness.ts";

// The Azure clients users already have, against the agent's Azure endpoints: Debian's azure-cli
// (2.45, through msrestazure) and azure-identity for Python (python3-azure), and @azure/identity
// (Node) with the variables of the protocols it has besides App Service 2019 (sdk-endpoints.test.ts).
// Everything runs inside a network namespace of this file's own that has only loopback: the agent,
// its endpoints, a stand-in for Azure Resource Manager, and every client; so no request can reach
// 169.254.169.254 (IMDS's address, which azure-cli falls back to) or anything else.

const REPO = resolve(import.meta.dir, "../..");
const SUPPORT = resolve(import.meta.dir, "../support");
const PYTHON = "/usr/bin/python3";
const AZ = "/usr/bin/az";
const NODE = Bun.which("node");
const SETPRIV = Bun.which("setpriv");
const NOBODY = 65534;
const ARM_RESOURCE = "https://management.core.windows.net/";
const DB_RESOURCE = "https://ossrdbms-aad.database.windows.net";
const TENANT = "72f988bf-0000-4000-8000-000000000001";
const SUBSCRIPTION = "11111111-2222-4333-8444-555555555555";

const missing = [
  process.getuid!() === 0 ? null : "root (for a network namespace of its own)",
  existsSync(AZ) ? null : "azure-cli (/usr/bin/az)",
  existsSync("/usr/lib/python3/dist-packages/azure/identity") ? null : "python3-azure",
  Bun.which("openssl") ? null : "openssl",
  Bun.which("ip") ? null : "iproute2 (ip)",
  Bun.which("unshare") && Bun.which("nsenter") && SETPRIV ? null : "util-linux (unshare, nsenter, setpriv)",
  NODE ? null : "node",
].filter((m): m is string => m !== null);
if (missing.length > 0) {
  if (process.env.CI === "true")
    throw new Error(`CI=true but the Azure client tests lack ${missing.join(", ")}: test/run.sh installs the packages`);
  console.warn(`skipping the Azure client tests: they need ${missing.join(", ")}`);
}
const run = missing.length === 0;

let box: Sandbox;
let holder: ReturnType<typeof Bun.spawn> | undefined;
let arm: ReturnType<typeof Bun.spawn> | undefined;
let ns: string[];
let sdkEnv: Record<string, string>;
let armPort: number;
// Readable by another user (the sandbox is 0700): the probe script for the other-uid test.
let shared: string;

/** The JWT the source printed on its Nth run, as the agent holds it. */
const count = (name: string) =>
  existsSync(join(box.root, `${name}.count`)) ? Number(readFileSync(join(box.root, `${name}.count`), "utf8")) : 0;
const jtiOf = (jwt: string) => JSON.parse(Buffer.from(jwt.split(".")[1]!, "base64url").toString()).jti as string;

/** Runs argv inside the namespace with the sandbox's environment (and az's config in the sandbox). */
async function inNs(
  argv: string[],
  env: Record<string, string> = {},
  // az takes ~2 s on an idle machine (its first run, building its command index, ~5 s), but much
  // longer on a busy one: generous, as the whole test's own timeout below.
  timeoutMs = 90_000,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const proc = Bun.spawn([...ns, ...argv], {
    env: {
      ...box.env,
      AZURE_CONFIG_DIR: join(box.root, "az"),
      AZURE_CORE_COLLECT_TELEMETRY: "false",
      AZURE_CORE_SURVEY_MESSAGE: "false",
      // The ARM stand-in's self-signed certificate (requests, hence azure-cli, reads this).
      REQUESTS_CA_BUNDLE: join(box.root, "arm-cert.pem"),
      ...env,
    },
    stdout: "pipe",
    stderr: "pipe",
    timeout: timeoutMs,
  });
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { code, stdout, stderr };
}

/** `credagent exec --sdk -- argv` inside the namespace: the variables `env --sdk` prints, and no others. */
const sdkExec = (argv: string[], env: Record<string, string> = {}) => inNs([BIN, "exec", "--sdk", "--", ...argv], env);

function audit(): Array<Record<string, unknown>> {
  const file = join(box.stateDir, "credagent", "audit.log");
  if (!existsSync(file)) return [];
  return readFileSync(file, "utf8")
    .trim()
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l));
}

/** Raw requests from inside the namespace (as `asUid`, when given): status, Allow and body of each. */
async function probe(
  requests: Array<{ method?: string; url: string; headers?: Record<string, string>; body?: string }>,
  asUid?: number,
): Promise<Array<{ status: number; allow: string | null; body: string }>> {
  const user = asUid === undefined ? [] : [SETPRIV!, `--reuid=${asUid}`, `--regid=${asUid}`, "--clear-groups"];
  const proc = Bun.spawn([...ns, ...user, PYTHON, join(shared, "http-probe.py")], {
    stdin: new Blob([JSON.stringify(requests)]),
    stdout: "pipe",
    stderr: "pipe",
    cwd: shared,
    timeout: 30_000,
  });
  const [out, err] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  if (!out.trim()) throw new Error(`http-probe.py printed nothing: ${err}`);
  return JSON.parse(out);
}

beforeAll(async () => {
  if (!run) return;
  box = new Sandbox();
  shared = mkdtempSync("/tmp/ca-az-");
  chmodSync(shared, 0o755);
  writeFileSync(join(shared, "http-probe.py"), readFileSync(join(SUPPORT, "http-probe.py")), { mode: 0o644 });
  // The namespace: held open by a process of ours, entered by everything else.
  const ready = Bun.spawn(["unshare", "-n", "sh", "-c", "ip link set lo up && echo up && exec sleep 300"], {
    stdout: "pipe",
    stderr: "inherit",
  });
  holder = ready;
  const reader = ready.stdout.getReader();
  const first = await reader.read();
  reader.releaseLock();
  if (!new TextDecoder().decode(first.value).includes("up")) throw new Error("the network namespace did not come up");
  ns = ["nsenter", `--net=/proc/${holder.pid}/ns/net`];

  const cert = join(box.root, "arm-cert.pem");
  const key = join(box.root, "arm-key.pem");
  const gen = Bun.spawnSync(
    [
      "openssl",
      "req",
      "-x509",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-keyout",
      key,
      "-out",
      cert,
      "-days",
      "1",
      "-subj",
      "/CN=127.0.0.1",
      "-addext",
      "subjectAltName=IP:127.0.0.1",
    ],
    { stdout: "ignore", stderr: "pipe" },
  );
  if (gen.exitCode !== 0) throw new Error(`openssl failed: ${gen.stderr.toString()}`);
  const portFile = join(box.root, "arm.port");
  arm = Bun.spawn([...ns, PYTHON, join(SUPPORT, "azure-arm-stub.py"), portFile, cert, key, join(box.root, "arm.log")], {
    stdout: "ignore",
    stderr: "inherit",
  });
  await waitFor(() => existsSync(portFile), 15_000, "the ARM stand-in to listen");
  armPort = Number(readFileSync(portFile, "utf8"));

  const source = (name: string, audience: string) =>
    `command = ["${PYTHON}", "${join(SUPPORT, "azure-jwt-source.py")}", "${box.root}", "${name}", "${audience}"]`;
  box.writeConfig(
    `[endpoints]\nazure = true\n\n` +
      `[credentials.arm]\nsource = "command"\n${source("arm", ARM_RESOURCE)}\nresource = "${ARM_RESOURCE}"\n\n` +
      `[credentials.db]\nsource = "command"\n${source("db", DB_RESOURCE)}\nresource = "${DB_RESOURCE}"\n`,
  );
  // The agent starts inside the namespace; its socket is a file, reached from anywhere.
  const started = await inNs([BIN, "start", "-s"]);
  if (started.code !== 0) throw new Error(`start failed: ${started.stderr}`);
  const env = await box.run(["env", "--sdk", "-s"]);
  if (env.code !== 0) throw new Error(`env --sdk failed: ${env.stderr}`);
  sdkEnv = Object.fromEntries([...env.stdout.matchAll(/^([A-Z_]+)=([^;]*); export/gm)].map((m) => [m[1]!, m[2]!.replace(/^'|'$/g, "")]));
}, 60_000);

afterAll(async () => {
  arm?.kill("SIGKILL");
  await arm?.exited;
  await box?.cleanup();
  holder?.kill("SIGKILL");
  await holder?.exited;
  if (shared) rmSync(shared, { recursive: true, force: true });
});

test.skipIf(!run)("env --sdk prints the variables of every Azure protocol the agent serves", () => {
  const url = new URL(sdkEnv.IDENTITY_ENDPOINT!);
  expect(url.pathname).toBe("/msi/token");
  expect(sdkEnv.MSI_ENDPOINT).toBe(sdkEnv.IDENTITY_ENDPOINT);
  expect(sdkEnv.MSI_SECRET).toBe(sdkEnv.IDENTITY_HEADER);
  expect(sdkEnv.AZURE_POD_IDENTITY_AUTHORITY_HOST).toBe(url.origin);
  // IMDS_ENDPOINT would turn on Azure Arc in the clients (and its key-file step cannot be served).
  expect(sdkEnv.IMDS_ENDPOINT).toBeUndefined();
});

test.skipIf(!run)(
  "azure-cli (Debian 2.45): az login --identity lists the subscription from ARM with the agent's token, and get-access-token gets a new one after refresh",
  async () => {
    // A cloud whose Resource Manager is the stand-in; the other endpoints are never asked (all four
    // given: az would otherwise look them up at ARM's /metadata/endpoints).
    const register = await inNs([
      AZ,
      "cloud",
      "register",
      "-n",
      "credagent",
      "--endpoint-resource-manager",
      `https://127.0.0.1:${armPort}/`,
      "--endpoint-active-directory",
      "https://login.credagent.test",
      "--endpoint-active-directory-resource-id",
      ARM_RESOURCE,
      "--endpoint-active-directory-graph-resource-id",
      "https://graph.credagent.test/",
    ]);
    expect(register.stderr).not.toContain("ERROR");
    expect(register.code).toBe(0);
    expect((await inNs([AZ, "cloud", "set", "-n", "credagent"])).code).toBe(0);

    const login = await sdkExec([AZ, "login", "--identity"]);
    expect(login.stderr).not.toContain("ERROR");
    expect(login.code).toBe(0);
    const accounts = JSON.parse(login.stdout) as Array<Record<string, any>>;
    expect(accounts).toHaveLength(1);
    expect(accounts[0]).toMatchObject({
      id: SUBSCRIPTION,
      tenantId: TENANT,
      environmentName: "credagent",
      user: { assignedIdentityInfo: "MSI", type: "servicePrincipal" },
    });
    // ARM was asked with the agent's token (az took the tenant from it: the JWT's tid).
    const listed = readFileSync(join(box.root, "arm.log"), "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { path: string; authorization: string })
      .find((r) => r.path.startsWith("/subscriptions?"))!;
    const loginToken = jtiOf(listed.authorization.replace(/^Bearer /, ""));
    expect(loginToken).toBe(`arm-${count("arm")}`);

    expect((await box.run(["refresh", "arm"])).code).toBe(0);
    const after = await sdkExec([AZ, "account", "get-access-token"]);
    expect(after.code).toBe(0);
    const token = JSON.parse(after.stdout) as { accessToken: string; expiresOn: string; tenant: string };
    expect(jtiOf(token.accessToken)).toBe(`arm-${count("arm")}`);
    expect(jtiOf(token.accessToken)).not.toBe(loginToken);
    expect(token.tenant).toBe(TENANT);
    // expires_on understood: about an hour from now (az prints local time, as this process reads it).
    expect(Math.abs(new Date(token.expiresOn.replace(" ", "T")).getTime() - (Date.now() + 3600_000))).toBeLessThan(120_000);
    // az asked with MSI_ENDPOINT alone, as in Cloud Shell: a POST with Metadata: true, no secret.
    const arms = audit().filter((e) => e.credential === "arm" && e.event === "fetch");
    expect(arms.length).toBeGreaterThanOrEqual(1);
    expect(arms.every((e) => e.decision === "allow" && String(e.reason).startsWith("azure endpoint (Cloud Shell)"))).toBe(true);
  },
  180_000,
);

test.skipIf(!run)(
  "azure-identity (Python) through each protocol it speaks, chosen by its variables; msrestazure (azure-cli's MSI library) through App Service 2017",
  async () => {
    const script = join(box.root, "azure_identity.py");
    writeFileSync(
      script,
      [
        "import json, os, sys",
        "from azure.identity import ManagedIdentityCredential",
        "names = ['IDENTITY_ENDPOINT', 'IDENTITY_HEADER', 'MSI_ENDPOINT', 'MSI_SECRET', 'AZURE_POD_IDENTITY_AUTHORITY_HOST']",
        "given = {k: os.environ[k] for k in names}",
        "variants = {'App Service 2019': names[:2], 'App Service 2017': names[2:4], 'Cloud Shell': names[2:3], 'IMDS': names[4:]}",
        "out = {}",
        "for form, keep in variants.items():",
        "    for k in names: os.environ.pop(k, None)",
        "    os.environ.update({k: given[k] for k in keep})",
        "    try:",
        "        t = ManagedIdentityCredential().get_token(sys.argv[1] + '/.default')",
        "        out[form] = {'token': t.token, 'expires_on': t.expires_on}",
        "    except Exception as e:",
        "        out[form] = {'error': type(e).__name__, 'message': str(e)}",
        // azure-cli's own MSI library in the form az takes where APPSETTING_WEBSITE_SITE_NAME says
        // App Service: GET with the secret (in the Cloud Shell form above, az login asked).
        "from msrestazure.azure_active_directory import MSIAuthentication",
        "for k in names: os.environ.pop(k, None)",
        "os.environ.update({'MSI_ENDPOINT': given['MSI_ENDPOINT'], 'MSI_SECRET': given['MSI_SECRET'], 'APPSETTING_WEBSITE_SITE_NAME': 'credagent'})",
        "m = MSIAuthentication(resource=sys.argv[1])",
        "out['msrestazure'] = {'token': m.token['access_token'], 'expires_on': int(m.token['expires_on'])}",
        // After the credential is refreshed, IMDS again: the new token.
        "import subprocess",
        "subprocess.run([sys.argv[2], 'refresh', 'db'], check=True, stdout=subprocess.DEVNULL)",
        "for k in ['MSI_ENDPOINT', 'MSI_SECRET', 'APPSETTING_WEBSITE_SITE_NAME']: os.environ.pop(k, None)",
        "os.environ['AZURE_POD_IDENTITY_AUTHORITY_HOST'] = given['AZURE_POD_IDENTITY_AUTHORITY_HOST']",
        "out['after refresh'] = {'token': ManagedIdentityCredential().get_token(sys.argv[1] + '/.default').token}",
        "print(json.dumps(out))",
      ].join("\n"),
    );
    const before = count("db");
    const auditBefore = audit().length;
    const r = await sdkExec([PYTHON, script, DB_RESOURCE, BIN]);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout.trim()) as Record<string, { token?: string; expires_on?: number; message?: string }>;
    const forms = ["App Service 2019", "App Service 2017", "Cloud Shell", "IMDS"];
    expect(jtiOf(out["after refresh"]!.token!)).toBe(`db-${count("db")}`);
    for (const form of [...forms, "msrestazure"]) {
      expect(out[form]?.message).toBeUndefined();
      expect(jtiOf(out[form]!.token!)).toBe(`db-${count("db") - 1}`);
      expect(Math.abs(out[form]!.expires_on! * 1000 - (Date.now() + 3600_000))).toBeLessThan(120_000);
    }
    expect(count("db")).toBe(Math.max(before, 1) + 1);
    // Each form served, as the audit log says (the same decision again within seconds is counted, not written).
    const served = new Set(
      audit()
        .slice(auditBefore)
        .map((e) => /^azure endpoint \(([^)]+)\)/.exec(String(e.reason))?.[1]),
    );
    for (const form of forms) expect(served).toContain(form);
  },
  90_000,
);

test.skipIf(!run)(
  "@azure/identity (Node) through IMDS (AZURE_POD_IDENTITY_AUTHORITY_HOST), Azure ML (MSI_ENDPOINT, MSI_SECRET) and Cloud Shell (MSI_ENDPOINT)",
  async () => {
    const script = join(box.root, "azure-identity.mjs");
    writeFileSync(
      script,
      `import { createRequire } from "node:module";\nconst require = createRequire(${JSON.stringify(join(REPO, "package.json"))});\n` +
        `const { ManagedIdentityCredential } = require("@azure/identity");\n` +
        `try { const t = await new ManagedIdentityCredential().getToken(${JSON.stringify(`${DB_RESOURCE}/.default`)}); console.log(JSON.stringify({ token: t.token, expiresOn: t.expiresOnTimestamp })); }\n` +
        `catch (err) { console.log(JSON.stringify({ error: err.name, message: err.message })); }\n`,
    );
    // MSAL picks its source once per process: one process per set of variables.
    const variants: Array<[string, string[]]> = [
      ["IMDS", ["AZURE_POD_IDENTITY_AUTHORITY_HOST"]],
      ["App Service 2017", ["MSI_ENDPOINT", "MSI_SECRET"]],
      ["Cloud Shell", ["MSI_ENDPOINT"]],
    ];
    const seen = new Set<string>();
    for (const [, keep] of variants) {
      // Each after a refresh: every form gets the new token.
      expect((await box.run(["refresh", "db"])).code).toBe(0);
      const r = await inNs([NODE!, script], Object.fromEntries(keep.map((k) => [k, sdkEnv[k]!])));
      const out = JSON.parse(r.stdout.trim().split("\n").at(-1)!) as { token?: string; expiresOn?: number; message?: string };
      expect(out.message).toBeUndefined();
      expect(jtiOf(out.token!)).toBe(`db-${count("db")}`);
      expect(Math.abs(out.expiresOn! - (Date.now() + 3600_000))).toBeLessThan(120_000);
      seen.add(out.token!);
    }
    expect(seen.size).toBe(variants.length);
  },
  90_000,
);

test.skipIf(!run)(
  "refused: each protocol without its header or secret, with X-Forwarded-For, HEAD, and another user on every protocol",
  async () => {
    const base = sdkEnv.IDENTITY_ENDPOINT!;
    const imds = `${sdkEnv.AZURE_POD_IDENTITY_AUTHORITY_HOST}/metadata/identity/oauth2/token?api-version=2018-02-01&resource=${encodeURIComponent(DB_RESOURCE)}`;
    const form = { "Content-Type": "application/x-www-form-urlencoded" };
    const q = (version: string) => `${base}?api-version=${version}&resource=${encodeURIComponent(DB_RESOURCE)}`;
    const runsBefore = count("db");
    const auditBefore = audit().length;
    const owner = await probe([
      { url: imds },
      { url: imds, headers: { Metadata: "true", "X-Forwarded-For": "203.0.113.7" } },
      { method: "HEAD", url: imds, headers: { Metadata: "true" } },
      { method: "POST", url: base, headers: form, body: `resource=${encodeURIComponent(DB_RESOURCE)}` },
      { url: q("2017-09-01") },
      { url: q("2017-09-01"), headers: { secret: "0".repeat(64) } },
      { url: q("2019-08-01"), headers: { secret: sdkEnv.MSI_SECRET! } },
      { method: "PUT", url: imds, headers: { Metadata: "true" } },
    ]);
    expect(owner.map((r) => r.status)).toEqual([400, 403, 405, 400, 401, 401, 401, 405]);
    expect(owner[0]!.body).toContain("Required metadata header not specified");
    expect(owner[2]).toMatchObject({ allow: "GET", body: "" });
    expect(owner[3]!.body).toContain("Required metadata header not specified");
    expect(owner[4]!.body).toContain("MSI_SECRET");
    expect(owner[6]!.body).toContain("X-IDENTITY-HEADER");
    // Another user, each protocol asked correctly (with the secret, where there is one).
    const other = await probe(
      [
        { url: imds, headers: { Metadata: "true" } },
        { method: "POST", url: base, headers: { ...form, Metadata: "true" }, body: `resource=${encodeURIComponent(DB_RESOURCE)}` },
        { url: q("2017-09-01"), headers: { secret: sdkEnv.MSI_SECRET! } },
        { url: q("2019-08-01"), headers: { "X-IDENTITY-HEADER": sdkEnv.IDENTITY_HEADER! } },
      ],
      NOBODY,
    );
    expect(other.map((r) => r.status)).toEqual([403, 403, 403, 403]);
    for (const r of [...owner, ...other]) expect(r.body).not.toContain("eyJ");
    expect(count("db")).toBe(runsBefore);
    const refusals = audit().slice(auditBefore);
    // (An allow line may still come: the count closing an earlier test's window of repeats.)
    expect(refusals.some((e) => e.decision === "allow" && (e.uid === NOBODY || e.count === undefined))).toBe(false);
    // (Refusals of one uid within seconds are one line and a count.)
    expect(refusals.some((e) => e.event === "connection" && e.decision === "deny" && e.uid === NOBODY)).toBe(true);
    // And asked correctly by the owner, each is served.
    const served = await probe([
      { url: imds, headers: { Metadata: "true" } },
      { method: "POST", url: base, headers: { ...form, Metadata: "true" }, body: `resource=${encodeURIComponent(DB_RESOURCE)}` },
      { url: q("2017-09-01"), headers: { secret: sdkEnv.MSI_SECRET! } },
    ]);
    expect(served.map((r) => r.status)).toEqual([200, 200, 200]);
    for (const r of served)
      expect(JSON.parse(r.body)).toMatchObject({ resource: DB_RESOURCE, token_type: "Bearer", expires_in: expect.stringMatching(/^\d+$/) });
  },
  90_000,
);
