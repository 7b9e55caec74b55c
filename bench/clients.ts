// The client libraries and the pgpass file, each beside its reference in the same run: the Node
// client's getCredential (cached in the process, and asking the agent) beside a raw node:http
// request to the socket; a psql connection through the pgpass file beside one with PGPASSWORD.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { startPostgres } from "../test/support/postgres.ts";

const ROOT = resolve(import.meta.dir, "..");
const BIN = join(ROOT, "build/credagent");

export const CLIENTS_DOC = `The Node client (clients/node, under Node, as an app runs it) and the pgpass file. The
Node figures are the mean of sequential calls in one process; the psql figures are hyperfine medians
(200 runs, interleaved) of a whole \`psql -c 'select 1'\` against a local PostgreSQL 15 over
127.0.0.1 with scram-sha-256.`;

function sh(argv: string[], env: Record<string, string>, input?: string): string {
  const r = Bun.spawnSync(argv, { env, stdin: input === undefined ? "ignore" : Buffer.from(input), stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`${argv.join(" ")} failed (${r.exitCode}): ${r.stderr}`);
  return r.stdout.toString();
}

export async function clientsBench(): Promise<string> {
  sh([join(ROOT, "clients/node/build.sh")], { PATH: process.env.PATH ?? "/usr/bin:/bin" });
  const cluster = await startPostgres();
  const root = mkdtempSync("/tmp/ca-bench-cl-");
  try {
    const password = "bench-password-0123456789";
    cluster.sql(`CREATE ROLE app LOGIN PASSWORD '${password}'; CREATE DATABASE app OWNER app;`);
    mkdirSync(join(root, "run"), { mode: 0o700 });
    mkdirSync(join(root, "config/credagent"), { recursive: true });
    const source = join(root, "pw.sh");
    writeFileSync(source, `#!/bin/sh\necho '{"username":"app","password":"${password}","expires_in":3600}'\n`, { mode: 0o755 });
    writeFileSync(
      join(root, "config/credagent/config.toml"),
      `[credentials.db]\nsource = "command"\ncommand = ["${source}"]\n\n[connections.app]\ncredential = "db"\npgpass = { host = "127.0.0.1", port = ${cluster.port}, database = "app" }\n`,
    );
    const env: Record<string, string> = {
      PATH: process.env.PATH ?? "/usr/bin:/bin",
      HOME: root,
      XDG_RUNTIME_DIR: join(root, "run"),
      XDG_CONFIG_HOME: join(root, "config"),
      XDG_STATE_HOME: join(root, "state"),
      CRED_SOCK: join(root, "run/cred.sock"),
    };
    sh([BIN, "start", "-s"], env);
    sh([BIN, "get", "db"], env);

    const script = join(root, "bench.mjs");
    writeFileSync(
      script,
      `import http from "node:http";
import { CredagentClient } from ${JSON.stringify(join(ROOT, "clients/node/dist/index.mjs"))};
const sock = process.env.CRED_SOCK;
const raw = () => new Promise((resolve, reject) => { const req = http.request({ socketPath: sock, path: "/v1/credentials/db", headers: { host: "localhost" } }, (res) => { const c = []; res.on("data", (d) => c.push(d)); res.on("end", () => resolve(JSON.parse(Buffer.concat(c)))); }); req.on("error", reject); req.end(); });
async function mean(n, f) { for (let i = 0; i < 20; i++) await f(); const t = performance.now(); for (let i = 0; i < n; i++) await f(); return ((performance.now() - t) / n) * 1000; }
const client = new CredagentClient();
const out = {
  raw: await mean(500, raw),
  uncached: await mean(500, () => { client.clear(); return client.getCredential("db"); }),
  cached: await mean(100000, () => client.getCredential("db")),
};
console.log(JSON.stringify(out));`,
    );
    const node = JSON.parse(sh(["node", script], env)) as { raw: number; uncached: number; cached: number };

    const pgpass = join(root, "run/credagent/pgpass");
    readFileSync(pgpass); // the agent wrote it
    const psql = cluster.bin("psql");
    const args = `-X -q -h 127.0.0.1 -p ${cluster.port} -U app -d app -w -c 'select 1'`;
    const dir = mkdtempSync("/tmp/ca-hf-");
    Bun.spawnSync(
      [
        "hyperfine",
        "-N",
        "--warmup",
        "10",
        "--runs",
        "200",
        "--export-json",
        join(dir, "o.json"),
        `env PGPASSFILE=${pgpass} ${psql} ${args}`,
        `env PGPASSWORD=${password} ${psql} ${args}`,
      ],
      { env, stdout: "ignore", stderr: "inherit" },
    );
    const [withFile, withVariable] = (
      JSON.parse(readFileSync(join(dir, "o.json"), "utf8")) as { results: Array<{ median: number }> }
    ).results.map((r) => r.median * 1000);
    rmSync(dir, { recursive: true, force: true });
    sh([BIN, "stop"], env);
    const us = (x: number) => `${x.toFixed(1)} µs`;
    return [
      "| benchmark | credagent | reference (same run) | note |",
      "| --- | --- | --- | --- |",
      `| Node client \`getCredential\`, asking the agent | ${us(node.uncached)} | raw node:http request to the socket: ${us(node.raw)} | ${(node.uncached / node.raw).toFixed(2)}x the raw request (cache cleared before each call) |`,
      `| Node client \`getCredential\`, cached in the process | ${us(node.cached)} | | until 60 s before expiry; no request |`,
      `| \`psql\` connect with the pgpass file the agent keeps | ${withFile!.toFixed(2)} ms | \`PGPASSWORD\`: ${withVariable!.toFixed(2)} ms | ${(withFile! / withVariable!).toFixed(2)}x: libpq reads one small file |`,
    ].join("\n");
  } finally {
    Bun.spawnSync([BIN, "stop"], { env: { PATH: process.env.PATH ?? "/usr/bin:/bin", CRED_SOCK: join(root, "run/cred.sock") } });
    rmSync(root, { recursive: true, force: true });
    cluster.stop();
  }
}

if (import.meta.main) console.log(`${CLIENTS_DOC}\n\n${await clientsBench()}`);
