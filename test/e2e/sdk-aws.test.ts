import { afterAll, beforeAll, expect, test } from "bun:test";
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Sandbox } from "./harness.ts";

// The AWS container endpoint with Debian's botocore (python3-boto3, under Debian's own
// /usr/bin/python3: a pyenv python on PATH lacks it). botocore refreshes credentials that have
// less than 15 minutes left, on every API call while they do: the agent must never serve a key
// inside that window. Keys here live 15 minutes and a few seconds, so every key spends all but
// its first seconds in botocore's window, and 20 API calls to a fake STS on 127.0.0.1 cross
// several of them.

const PYTHON = "/usr/bin/python3";
const SETPRIV = Bun.which("setpriv");
const NOBODY = 65534;
const hasBoto3 = existsSync("/usr/lib/python3/dist-packages/boto3");
if (!hasBoto3) {
  if (process.env.CI === "true") throw new Error("CI=true and Debian's python3-boto3 is missing: test/run.sh installs it");
  console.warn("skipping the botocore tests: Debian's python3-boto3 is not installed (apt-get install python3-boto3)");
}
const canSwitchUser = process.getuid!() === 0 && SETPRIV !== null;
if (!canSwitchUser) {
  if (process.env.CI === "true") throw new Error("CI=true but the other-user test cannot run: it needs root and setpriv");
  console.warn("skipping the other-user test of the AWS endpoint: it needs root and setpriv");
}

// 15 minutes and 5 seconds: botocore uses each key for about 5 seconds.
const LIFETIME_S = 15 * 60 + 5;
let box: Sandbox;
let sdkEnv: Record<string, string>;
let sts: ReturnType<typeof Bun.serve>;
/** The access key id of every request the fake STS received, in order. */
const signedWith: string[] = [];

function keyScript(name: string, lifetimeS: number): string {
  return box.script(
    `${name}.sh`,
    `n=$(($(cat ${box.root}/${name}.count 2>/dev/null || echo 0) + 1)); echo $n > ${box.root}/${name}.count\n` +
      `exp=$(date -u -d "+${lifetimeS} seconds" +%Y-%m-%dT%H:%M:%SZ)\n` +
      `printf '{"Version":1,"AccessKeyId":"AKIA${name.toUpperCase().replace(/[^A-Z]/g, "")}%s","SecretAccessKey":"secret-%s","SessionToken":"session-%s","Expiration":"%s"}' $n $n $n $exp`,
  );
}
/** How many times the credential's source ran. */
function runs(name: string): number {
  const file = join(box.root, `${name}.count`);
  return existsSync(file) ? Number(readFileSync(file, "utf8").trim()) : 0;
}

function auditLines(): Array<Record<string, unknown>> {
  const file = join(box.stateDir, "credagent", "audit.log");
  if (!existsSync(file)) return [];
  return readFileSync(file, "utf8")
    .trim()
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l));
}

/** The agent's audit lines for tokens served on the AWS endpoint. */
function awsEndpointFetches(): Array<Record<string, unknown>> {
  return auditLines().filter((e) => e.event === "fetch" && String(e.reason).startsWith("aws endpoint"));
}

beforeAll(async () => {
  // GetCallerIdentity in the Query protocol's XML; the caller is the access key id the request was signed with.
  sts = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(request) {
      await request.text();
      const key = /Credential=([A-Z0-9]+)\//.exec(request.headers.get("authorization") ?? "")?.[1] ?? "unsigned";
      signedWith.push(key);
      return new Response(
        `<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><GetCallerIdentityResult>` +
          `<Arn>arn:aws:iam::123456789012:user/test</Arn><UserId>${key}</UserId><Account>123456789012</Account>` +
          `</GetCallerIdentityResult><ResponseMetadata><RequestId>r-${signedWith.length}</RequestId></ResponseMetadata></GetCallerIdentityResponse>`,
        { headers: { "Content-Type": "text/xml" } },
      );
    },
  });
  box = new Sandbox();
  box.writeConfig(
    `[endpoints]\naws = "aws"\n\n` +
      `[credentials.aws]\nsource = "command"\ncommand = ["${keyScript("aws", LIFETIME_S)}"]\n\n` +
      `[credentials.short]\nsource = "command"\ncommand = ["${keyScript("short", 600)}"]\n`,
  );
  await box.start();
  const r = await box.run(["env", "--sdk", "-s"]);
  if (r.code !== 0) throw new Error(`env --sdk failed: ${r.stderr}`);
  sdkEnv = Object.fromEntries([...r.stdout.matchAll(/^([A-Z_]+)=([^;]*); export/gm)].map((m) => [m[1]!, m[2]!.replace(/^'|'$/g, "")]));
}, 60_000);

afterAll(async () => {
  sts?.stop(true);
  await box?.cleanup();
});

test.skipIf(!hasBoto3)(
  "botocore makes one endpoint call per key: 20 API calls across keys in their last 15 minutes",
  async () => {
    const script = join(box.root, "calls.py");
    writeFileSync(
      script,
      [
        "import json, logging, os, sys, time, boto3",
        // Every HTTP request botocore makes goes through urllib3, which logs each at DEBUG: the
        // requests to the endpoint's path are botocore's endpoint calls.
        "calls = []",
        "class Count(logging.Handler):",
        "    def emit(self, record):",
        "        if os.environ['AWS_CONTAINER_CREDENTIALS_FULL_URI'].split('/', 3)[3] in record.getMessage(): calls.append(1)",
        "pool = logging.getLogger('urllib3.connectionpool')",
        "pool.setLevel(logging.DEBUG)",
        "pool.addHandler(Count())",
        "sts = boto3.client('sts', region_name='us-east-1', endpoint_url=sys.argv[1])",
        "seen = []",
        "for i in range(20):",
        "    seen.append(sts.get_caller_identity()['UserId'])",
        "    time.sleep(0.5)",
        "print(json.dumps({'seen': seen, 'endpointCalls': len(calls)}))",
      ].join("\n"),
    );
    const before = awsEndpointFetches().length;
    const r = await box.run(["exec", "--sdk", "--", PYTHON, script, sts.url.href], {
      timeoutMs: 60_000,
      // The default chain would read ~/.aws and ask the EC2 metadata service first: none here.
      env: {
        AWS_CONFIG_FILE: join(box.root, "none"),
        AWS_SHARED_CREDENTIALS_FILE: join(box.root, "none"),
        AWS_EC2_METADATA_DISABLED: "true",
      },
    });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const { seen, endpointCalls } = JSON.parse(r.stdout.trim()) as { seen: string[]; endpointCalls: number };
    expect(seen).toHaveLength(20);
    expect(signedWith.slice(-20)).toEqual(seen);
    const keys = new Set(seen);
    // The source ran for those keys (and at most one more, renewed in the background at the end);
    // counted at once, as the key keeps being renewed every few seconds.
    const sourceRuns = runs("aws");
    expect(sourceRuns).toBeGreaterThanOrEqual(keys.size);
    expect(sourceRuns).toBeLessThanOrEqual(keys.size + 1);
    // Each key botocore used cost exactly one endpoint call: none was served inside its window
    // (served until 80% of its life, one key took an endpoint call at each of the last ~10 API calls)...
    expect(endpointCalls).toBe(keys.size);
    // The agent served them (the audit log counts repeats within seconds instead of writing each).
    const served = awsEndpointFetches().slice(before);
    expect(served.length).toBeGreaterThanOrEqual(1);
    expect(served.every((e) => e.decision === "allow" && e.credential === "aws")).toBe(true);
    // ...and the keys were renewed while it worked (each is in its window after ~5 s).
    expect(keys.size).toBeGreaterThanOrEqual(2);
  },
  60_000,
);

test("HEAD is answered without fetching a key: 405 with Allow: GET (401 without the secret)", async () => {
  const url = sdkEnv.AWS_CONTAINER_CREDENTIALS_FULL_URI!;
  const before = { runs: runs("aws"), fetches: awsEndpointFetches().length };
  const head = await fetch(url, { method: "HEAD", headers: { Authorization: sdkEnv.AWS_CONTAINER_AUTHORIZATION_TOKEN! } });
  expect(head.status).toBe(405);
  expect(head.headers.get("allow")).toBe("GET");
  expect(await head.text()).toBe("");
  expect((await fetch(url, { method: "HEAD" })).status).toBe(401);
  expect(runs("aws")).toBe(before.runs);
  expect(awsEndpointFetches().length).toBe(before.fetches);
  // GET still serves.
  const get = await fetch(url, { headers: { Authorization: sdkEnv.AWS_CONTAINER_AUTHORIZATION_TOKEN! } });
  expect(((await get.json()) as { AccessKeyId: string }).AccessKeyId).toMatch(/^AKIAAWS\d+$/);
});

test.skipIf(!canSwitchUser)("another user's process is refused even with the endpoint secret, and audited under its uid", () => {
  const before = runs("aws");
  const dir = mkdtempSync("/tmp/ca-aws-");
  try {
    chmodSync(dir, 0o755);
    // The secret through a file only root could have handed over: curl reads the header from stdin.
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
        "@-",
        sdkEnv.AWS_CONTAINER_CREDENTIALS_FULL_URI!,
      ],
      {
        stdin: Buffer.from(`Authorization: ${sdkEnv.AWS_CONTAINER_AUTHORIZATION_TOKEN}\n`),
        stdout: "pipe",
        stderr: "pipe",
        cwd: dir,
        timeout: 20_000,
      },
    );
    const out = r.stdout.toString();
    expect(out).toMatch(/^HTTP\/1\.1 403/);
    expect(out).not.toContain("secret-");
    expect(runs("aws")).toBe(before);
    expect(auditLines().at(-1)).toMatchObject({ event: "connection", decision: "deny", uid: NOBODY });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a credential whose keys live no longer than the window is served whole, and status says what that costs", async () => {
  const first = await box.run(["get", "short", "--json"]);
  expect(first.code).toBe(0);
  const again = await box.run(["get", "short", "--json"]);
  expect(JSON.parse(again.stdout).aws.access_key_id).toBe(JSON.parse(first.stdout).aws.access_key_id);
  expect(runs("short")).toBe(1);
  const status = await box.run(["status"]);
  expect(status.stdout).toMatch(
    /note: short: its AWS keys live (9m5\ds|10m00s), no longer than the 15m00s before expiry in which AWS SDKs refresh/,
  );
  expect(status.stdout).not.toContain("note: aws:");
  const json = JSON.parse((await box.run(["status", "--json"])).stdout) as { credentials: Array<{ name: string; note: string | null }> };
  expect(json.credentials.find((c) => c.name === "aws")?.note).toBeNull();
});
