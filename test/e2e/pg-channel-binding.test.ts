import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { Sandbox } from "./harness.ts";
import { makeTestCerts, type TestCerts } from "../support/certs.ts";
import { type PgCluster, postgresUnavailable, startPostgres } from "../support/postgres.ts";

// SCRAM-SHA-256-PLUS toward PostgreSQL over TLS (tls-server-end-point), against Debian's server:
// the proxy binds its login to the server's certificate, so a TLS-terminating relay in between
// (one whose certificate the proxy would accept: tls = "require") cannot pass the login on; and
// the server's own pg_stat_activity names the program behind each proxied connection.
const unavailable = postgresUnavailable() ?? (Bun.which("openssl") ? null : "openssl is not installed");
if (unavailable && process.env.CI === "true") throw new Error(`CI=true and ${unavailable}`);
if (unavailable) console.warn(`skipping the channel binding tests: ${unavailable}`);

const REPO = resolve(import.meta.dir, "../..");
let cluster: PgCluster;
let certs: TestCerts;
let box: Sandbox;
let mitm: Bun.Subprocess<"ignore", "pipe", "inherit"> | undefined;
const dbDir = (name: string) => join(box.runtimeDir, "credagent", "db", name);

beforeAll(async () => {
  if (unavailable) return;
  certs = makeTestCerts();
  cluster = await startPostgres({
    tls: { certFile: certs.certFile, keyFile: certs.keyFile },
    hba: "local all all trust\nhostssl all all 127.0.0.0/8 scram-sha-256\nhost all all 127.0.0.0/8 reject\n",
  });
  cluster.sql("SET password_encryption = 'scram-sha-256'; CREATE ROLE app LOGIN PASSWORD 'app-password'; CREATE DATABASE app OWNER app;");
  // The relay's certificate: the CA's own (self-signed), not the server's.
  mitm = Bun.spawn<"ignore", "pipe", "inherit">(
    ["node", join(REPO, "test/fixtures/pg-tls-mitm.cjs"), String(cluster.port), certs.caFile, certs.caFile.replace(/\.crt$/, ".key")],
    {
      stdout: "pipe",
      stderr: "inherit",
    },
  );
  const reader = mitm.stdout.getReader();
  const mitmPort = Number(new TextDecoder().decode((await reader.read()).value).trim());
  reader.releaseLock();
  box = new Sandbox();
  const login = box.script("login.sh", `echo '{"username":"app","password":"app-password"}'`);
  const database = (name: string, port: number, tls: string) =>
    `[databases.${name}]\ncredential = "pg"\nprotocol = "postgresql"\nserver = "127.0.0.1:${port}"\ntls = "${tls}"\ndatabases = ["app"]\n` +
    (tls.startsWith("verify") ? `ca_file = "${certs.caFile}"\n` : "");
  box.writeConfig(
    [
      `[credentials.pg]\nsource = "command"\ncommand = ["${login}"]\n`,
      database("direct", cluster.port, "verify-full"),
      database("relayed", mitmPort, "require"),
    ].join("\n"),
  );
  await box.start();
}, 90_000);

afterAll(async () => {
  await box?.cleanup();
  mitm?.kill("SIGKILL");
  await mitm?.exited;
  cluster?.stop();
  certs?.remove();
});

function psql(host: string, sql: string) {
  const r = Bun.spawnSync([cluster.bin("psql"), "-X", "-A", "-t", "-d", `host=${host} dbname=app connect_timeout=10`, "-c", sql], {
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: box.root },
    stdout: "pipe",
    stderr: "pipe",
    timeout: 20_000,
  });
  return { code: r.exitCode, stdout: r.stdout.toString().trim(), stderr: r.stderr.toString() };
}

describe.skipIf(unavailable !== null)("SCRAM-SHA-256-PLUS and application_name", () => {
  test("over TLS the login is bound to the server's certificate: direct it logs in, through a TLS-terminating relay the server refuses it", () => {
    expect(psql(dbDir("direct"), "select current_user")).toMatchObject({ code: 0, stdout: "app" });
    const relayed = psql(dbDir("relayed"), "select current_user");
    expect(relayed.code).not.toBe(0);
    expect(relayed.stderr).toContain("channel binding");
    // The server saw the bound login fail: the relay got nothing it could use.
    expect(readFileSync(join(cluster.socketDir, "server.log"), "utf8")).toMatch(/SCRAM channel binding check failed/);
  });

  test("application_name is credagent:<program>[<pid>] unless the client set one", () => {
    const code = `const { Client } = require("pg"); const c = new Client({ host: process.argv[1], database: "app" });
      c.connect().then(() => c.query("select application_name from pg_stat_activity where pid = pg_backend_pid()")).then((r) => { console.log(r.rows[0].application_name, process.pid); return c.end(); }).catch((e) => { console.error(e.message); process.exit(1); });`;
    const r = Bun.spawnSync(["node", "-e", code, dbDir("direct")], { cwd: REPO, stdout: "pipe", stderr: "pipe", timeout: 20_000 });
    expect(r.stderr.toString()).toBe("");
    const [name, pid] = r.stdout.toString().trim().split(" ");
    expect(name).toBe(`credagent:node[${pid}]`);
    // psql names itself: its name stays.
    expect(psql(dbDir("direct"), "select application_name from pg_stat_activity where pid = pg_backend_pid()").stdout).toBe("psql");
  });
});
