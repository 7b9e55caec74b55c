import { afterAll, beforeAll, expect, test } from "bun:test";
import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { type PgCluster, postgresUnavailable, rotatingPasswordScript, startPostgres } from "../support/postgres.ts";
import { Sandbox, waitFor } from "./harness.ts";

// psql reading its connection, password included, from a pg_service.conf the agent keeps fresh
// ([files.pgservice], format "ini"), against a real PostgreSQL whose role's password rotates at each
// fetch. PostgreSQL holds one password per role, so a psql started in the milliseconds between the
// rotation and the rewrite may be refused once; it then tries once more, as an app should on 28P01,
// and that is counted: a connection that fails even so is a failure.

const unavailable = postgresUnavailable();
if (unavailable && process.env.CI === "true") throw new Error(`CI=true and ${unavailable}`);
if (unavailable) console.warn(`skipping the pg_service.conf test: ${unavailable}`);

const LIFETIME_S = 8; // refreshed at 70-80%: a rotation every ~6 s
const RUN_S = 20; // at least two rotations

let cluster: PgCluster;
let box: Sandbox;

beforeAll(async () => {
  if (unavailable) return;
  cluster = await startPostgres();
  cluster.sql("CREATE ROLE app LOGIN PASSWORD 'initial'; CREATE DATABASE app OWNER app;");
  box = new Sandbox();
  const rotate = box.script("rotate.sh", rotatingPasswordScript(cluster, "app", LIFETIME_S));
  box.writeConfig(
    `[credentials.pg]\nsource = "command"\ncommand = ["${rotate}"]\n\n` +
      `[files.pgservice]\nformat = "ini"\ntemplate = """\n# libpq's connection service file\n[appdb]\nhost=127.0.0.1\nport=${cluster.port}\n` +
      `dbname=app\nuser={{ pg.username }}\npassword={{ pg.password }}\nconnect_timeout=5\n"""\n`,
  );
  await box.start();
}, 120_000);
afterAll(async () => {
  await box?.cleanup();
  cluster?.stop();
});

test.skipIf(unavailable !== null)(
  "psql service=appdb connects every second across two rotations, the password only in the kept file",
  async () => {
    const service = join(box.runtimeDir, "credagent", "files", "pgservice");
    await waitFor(() => existsSync(service), 10_000, "the service file");
    expect(statSync(service).mode & 0o777).toBe(0o600);
    const first = readFileSync(service, "utf8");
    expect(first).toMatch(/^user=app\npassword=[A-Za-z0-9_-]{24}\n/m);

    const result = { ok: 0, retried: 0, failed: 0, errors: [] as string[] };
    const passwords = new Set<string>();
    const deadline = Date.now() + RUN_S * 1000;
    while (Date.now() < deadline) {
      const started = Date.now();
      passwords.add(/^password=(.*)$/m.exec(readFileSync(service, "utf8"))![1]!);
      for (let attempt = 1; ; attempt++) {
        // No host, user or password on the command line or in the environment: only the service name.
        const proc = Bun.spawn([cluster.bin("psql"), "-X", "-A", "-t", "-w", "-c", "select current_user", "service=appdb"], {
          env: { PATH: process.env.PATH ?? "/usr/bin:/bin", PGSERVICEFILE: service, HOME: box.root },
          stdout: "pipe",
          stderr: "pipe",
        });
        const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
        if (code === 0 && stdout.trim() === "app") {
          result.ok++;
          if (attempt > 1) result.retried++;
          break;
        }
        if (attempt === 1 && stderr.includes("password authentication failed")) continue;
        result.failed++;
        result.errors.push(stderr);
        break;
      }
      await Bun.sleep(Math.max(0, 1000 - (Date.now() - started)));
    }
    console.log(`  psql: ${JSON.stringify(result)}, ${passwords.size} passwords seen in the file`);
    expect(result.errors).toEqual([]);
    expect(result.failed).toBe(0);
    expect(result.ok).toBeGreaterThan(10);
    expect(passwords.size).toBeGreaterThanOrEqual(3);
    // The first password no longer works: the rotation is real.
    const old = /^password=(.*)$/m.exec(first)![1]!;
    const stale = Bun.spawnSync(
      [cluster.bin("psql"), "-X", "-w", "-c", "select 1", `host=127.0.0.1 port=${cluster.port} dbname=app user=app password=${old}`],
      { stderr: "pipe", env: { PATH: process.env.PATH ?? "/usr/bin:/bin" } },
    );
    expect(stale.exitCode).not.toBe(0);
    expect((await box.run(["stop"])).code).toBe(0);
    expect(existsSync(service)).toBe(false);
  },
  RUN_S * 1000 + 30_000,
);
