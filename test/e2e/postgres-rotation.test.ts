import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type PgCluster, postgresUnavailable, rotatingPasswordScript, startPostgres } from "../support/postgres.ts";

// The database the connection-string and proxy tests rely on: a real PostgreSQL whose role's password
// really rotates, so that a stale password fails there. Outside CI, without the server, this skips.
const unavailable = postgresUnavailable();
if (unavailable && process.env.CI === "true") throw new Error(`CI=true and ${unavailable}`);
if (unavailable) console.warn(`skipping the PostgreSQL tests: ${unavailable}`);

let cluster: PgCluster;
let dir: string;
beforeAll(async () => {
  if (unavailable) return;
  cluster = await startPostgres();
  cluster.sql("CREATE ROLE app LOGIN PASSWORD 'initial-password'; CREATE DATABASE app OWNER app;");
  dir = mkdtempSync("/tmp/ca-pgtest-");
}, 90_000);
afterAll(() => {
  cluster?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function connect(password: string) {
  return Bun.spawnSync(
    [
      cluster.bin("psql"),
      "-X",
      "-A",
      "-t",
      "-h",
      "127.0.0.1",
      "-p",
      String(cluster.port),
      "-U",
      "app",
      "-d",
      "app",
      "-c",
      "select current_user",
    ],
    {
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", PGPASSWORD: password, PGCONNECT_TIMEOUT: "5" },
      stdout: "pipe",
      stderr: "pipe",
    },
  );
}

test.skipIf(unavailable !== null)(
  "the rotating script gives the role a new password each run; the old one is refused by the server",
  () => {
    const script = join(dir, "rotate.sh");
    writeFileSync(script, rotatingPasswordScript(cluster, "app", 20), { mode: 0o755 });
    const outputs = [0, 1].map(() => {
      const r = Bun.spawnSync(["sh", script], { stdout: "pipe", stderr: "pipe" });
      expect(r.stderr.toString()).toBe("");
      return JSON.parse(r.stdout.toString()) as { username: string; password: string; expires_in: number };
    });
    expect(outputs[0]!.username).toBe("app");
    expect(outputs[0]!.expires_in).toBe(20);
    expect(outputs[0]!.password).not.toBe(outputs[1]!.password);
    const fresh = connect(outputs[1]!.password);
    expect(fresh.stdout.toString().trim()).toBe("app");
    const stale = connect(outputs[0]!.password);
    expect(stale.exitCode).not.toBe(0);
    expect(stale.stderr.toString()).toContain("password authentication failed");
  },
  30_000,
);
