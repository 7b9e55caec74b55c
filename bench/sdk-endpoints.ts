// The cloud SDKs through the agent's loopback endpoints (src/endpoints/), against the compiled agent:
//   1. each SDK's first token in a new Node process (detection included) and its tenth (ten new
//      credential objects in that process, so each asks the endpoint, not the SDK's own cache);
//   2. requests/s and latency of the loopback endpoint (Azure's token path, secret and uid checks
//      included) beside the Unix socket's GET /v1/credentials/NAME, 50 connections, same run, in turns.
// `node_modules/.bin/bun bench/sdk-endpoints.ts` (after scripts/build.sh); prints a Markdown table.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { join, resolve } from "node:path";

const ROOT = resolve(import.meta.dir, "..");
const BIN = join(ROOT, "build/credagent");
const AUTOCANNON = join(ROOT, "node_modules/.bin/autocannon");
const NODE = Bun.which("node");
if (!NODE) throw new Error("node is needed: the SDKs run under Node");
const RESOURCE = "https://ossrdbms-aad.database.windows.net";

const root = mkdtempSync("/tmp/ca-bench-sdk-");
const run = join(root, "run");
mkdirSync(run, { mode: 0o700 });
mkdirSync(join(root, "config/credagent"), { recursive: true });
const script = join(root, "token.sh");
writeFileSync(script, `#!/bin/sh\necho '{"access_token":"${"t".repeat(40)}","expires_in":3600}'\n`, { mode: 0o755 });
const awsScript = join(root, "aws.sh");
writeFileSync(
  awsScript,
  `#!/bin/sh\necho '{"Version":1,"AccessKeyId":"AKIABENCH","SecretAccessKey":"${"s".repeat(40)}","SessionToken":"${"x".repeat(300)}","Expiration":"2099-01-01T00:00:00Z"}'\n`,
  { mode: 0o755 },
);
writeFileSync(
  join(root, "config/credagent/config.toml"),
  `[endpoints]\nazure = true\ngcp = "gcp"\ngcp_project = "bench"\naws = "aws"\n\n[credentials.aws]\nsource = "command"\ncommand = ["${awsScript}"]\n\n[credentials.db]\nsource = "command"\ncommand = ["${script}"]\nresource = "${RESOURCE}"\n\n[credentials.gcp]\nsource = "command"\ncommand = ["${script}"]\n`,
);
const env: Record<string, string> = {
  PATH: process.env.PATH ?? "/usr/bin:/bin",
  HOME: root,
  XDG_RUNTIME_DIR: run,
  XDG_CONFIG_HOME: join(root, "config"),
  XDG_STATE_HOME: join(root, "state"),
  XDG_DATA_HOME: join(root, "data"),
};
const socket = join(run, "cred.sock");

function sh(cmd: string[], extra: Record<string, string> = {}): string {
  const r = Bun.spawnSync(cmd, { env: { ...env, ...extra }, stdout: "pipe", stderr: "pipe", timeout: 120_000 });
  if (r.exitCode !== 0) throw new Error(`${cmd.join(" ")} failed (${r.exitCode}): ${r.stderr.toString()}`);
  return r.stdout.toString();
}

const TIMED = (make: string, call: string) => `
import { createRequire } from "node:module";
const require = createRequire(${JSON.stringify(join(ROOT, "package.json"))});
const times = [];
for (let i = 0; i < 10; i++) {
  const t0 = performance.now();
  const client = ${make};
  const token = await ${call};
  if (!token) throw new Error("no token");
  times.push(performance.now() - t0);
}
console.log(JSON.stringify({ first: times[0], tenth: times[9] }));
`;

const SDKS: Array<{ name: string; make: string; call: string }> = [
  {
    name: "@azure/identity ManagedIdentityCredential",
    make: `new (require("@azure/identity").ManagedIdentityCredential)()`,
    call: `client.getToken(${JSON.stringify(`${RESOURCE}/.default`)}).then((t) => t.token)`,
  },
  {
    name: "@azure/identity DefaultAzureCredential",
    make: `new (require("@azure/identity").DefaultAzureCredential)()`,
    call: `client.getToken(${JSON.stringify(`${RESOURCE}/.default`)}).then((t) => t.token)`,
  },
  {
    // A new provider function each time: the SDK caches credentials inside one.
    name: "@aws-sdk/credential-providers fromContainerMetadata()",
    make: `require("@aws-sdk/credential-providers").fromContainerMetadata()`,
    call: `client().then((c) => c.accessKeyId)`,
  },
  {
    name: "google-auth-library GoogleAuth().getAccessToken()",
    make: `new (require("google-auth-library").GoogleAuth)({ scopes: ["https://www.googleapis.com/auth/cloud-platform"] })`,
    call: `client.getAccessToken()`,
  },
];

function autocannon(args: string[]): { rps: number; p50: number; p99: number } {
  const r = JSON.parse(sh([AUTOCANNON, "-j", "-c", "50", "-d", "10", ...args]));
  if (r.non2xx > 0 || r.errors > 0) throw new Error(`autocannon saw ${r.non2xx} non-2xx and ${r.errors} errors`);
  return { rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99 };
}

try {
  sh([BIN, "start", "-s"]);
  const sdkEnv = Object.fromEntries(
    [...sh([BIN, "env", "--sdk", "-s"], { CRED_SOCK: socket }).matchAll(/^([A-Z_]+)=([^;]*); export/gm)].map((m) => [
      m[1]!,
      m[2]!.replace(/^'|'$/g, ""),
    ]),
  );
  const rows: string[] = [];
  for (const sdk of SDKS) {
    const file = join(root, `${sdk.name.replace(/\W+/g, "-")}.mjs`);
    writeFileSync(file, TIMED(sdk.make, sdk.call));
    // Three new processes; the median of each figure.
    const runs = [0, 1, 2].map(() => JSON.parse(sh([NODE!, file], sdkEnv).trim().split("\n").at(-1)!) as { first: number; tenth: number });
    const median = (xs: number[]) => xs.sort((a, b) => a - b)[1]!;
    rows.push(`| ${sdk.name} | ${median(runs.map((r) => r.first)).toFixed(1)} ms | ${median(runs.map((r) => r.tenth)).toFixed(1)} ms |`);
  }
  const azureUrl = `${sdkEnv.IDENTITY_ENDPOINT}?api-version=2019-08-01&resource=${encodeURIComponent(RESOURCE)}`;
  const loopbackArgs = ["-H", `X-IDENTITY-HEADER=${sdkEnv.IDENTITY_HEADER}`, azureUrl];
  const socketArgs = ["-S", socket, "http://localhost/v1/credentials/db"];
  // Warm both, then A B A B: the better of two each, as bench/run.ts measures its rows.
  sh([AUTOCANNON, "-c", "10", "-d", "2", ...loopbackArgs]);
  sh([AUTOCANNON, "-c", "10", "-d", "2", ...socketArgs]);
  const turns = [0, 1].map(() => [autocannon(loopbackArgs), autocannon(socketArgs)] as const);
  const better = (a: ReturnType<typeof autocannon>, b: ReturnType<typeof autocannon>) => (a.rps >= b.rps ? a : b);
  const loop = better(turns[0]![0], turns[1]![0]);
  const unix = better(turns[0]![1], turns[1]![1]);
  console.log(`SDK endpoints, ${cpus().length} CPUs (${cpus()[0]?.model ?? "?"}), Node ${sh([NODE!, "--version"]).trim()}\n`);
  console.log("| SDK (Node, new process) | first token | tenth token (new client object) |\n| --- | --- | --- |");
  console.log(rows.join("\n"));
  console.log("\n| transport (50 connections, 10 s) | req/s | p50 | p99 |\n| --- | --- | --- | --- |");
  console.log(`| loopback endpoint (Azure token, secret + uid check) | ${Math.round(loop.rps)} | ${loop.p50} ms | ${loop.p99} ms |`);
  console.log(`| Unix socket GET /v1/credentials/db | ${Math.round(unix.rps)} | ${unix.p50} ms | ${unix.p99} ms |`);
} finally {
  Bun.spawnSync([BIN, "stop"], { env: { ...env, CRED_SOCK: socket } });
  rmSync(root, { recursive: true, force: true });
}
