import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, realpathSync, rmSync } from "node:fs";
import { join, resolve } from "node:path";
import { Sandbox } from "./harness.ts";
import { type PgCluster, postgresUnavailable, startPostgres } from "../support/postgres.ts";
import { freePort } from "../support/ports.ts";
import { type RedisServer, redisUnavailable, startRedis } from "../support/redis.ts";

// `listen = "127.0.0.1:PORT"` on [databases.X]: a loopback TCP listener for clients that cannot
// open a Unix socket (JDBC without junixsocket), through the same admission step as the socket:
// the kernel names the connecting socket's owner by its 4-tuple and its process by the socket's
// inode, so allow rules that name a program hold over TCP; another uid is refused before a byte
// is relayed. Against Debian's PostgreSQL and Redis, with Debian's JDK and pgjdbc.
const JAVA_JARS = ["/usr/share/java/postgresql.jar"];
const unavailable =
  postgresUnavailable() ??
  redisUnavailable() ??
  (Bun.which("javac") && Bun.which("java") ? null : "no JDK (apt-get install default-jdk-headless)") ??
  (JAVA_JARS.every(existsSync) ? null : "pgjdbc is not installed (apt-get install libpostgresql-jdbc-java)");
if (unavailable && process.env.CI === "true") throw new Error(`CI=true and ${unavailable}`);
if (unavailable) console.warn(`skipping the loopback listener tests: ${unavailable}`);

const REPO = resolve(import.meta.dir, "../..");
const OTHER_USER = "credagent-e2e";
const asRoot = process.getuid!() === 0 && Bun.which("useradd") !== null && Bun.which("runuser") !== null;

let cluster: PgCluster;
let redis: RedisServer;
let box: Sandbox;
let classes: string;
let java: string;
const ports = { pg: 0, javaOnly: 0, redis: 0 };

beforeAll(async () => {
  if (unavailable) return;
  classes = mkdtempSync("/tmp/ca-jdbc-");
  const javac = Bun.spawnSync(["javac", "-d", classes, join(REPO, "test/fixtures/jdbc/JdbcQuery.java")], {
    stdout: "pipe",
    stderr: "pipe",
    timeout: 60_000,
  });
  if (javac.exitCode !== 0) throw new Error(`javac: ${javac.stderr.toString()}`);
  java = realpathSync(Bun.which("java")!);
  cluster = await startPostgres({ hba: "local all all trust\nhost all all 127.0.0.0/8 scram-sha-256\n" });
  cluster.sql("SET password_encryption = 'scram-sha-256'; CREATE ROLE app LOGIN PASSWORD 'app-password'; CREATE DATABASE app OWNER app;");
  redis = await startRedis();
  redis.cli("ACL SETUSER cacheapp on resetpass >cache-password ~* &* +@all\n");
  for (const k of Object.keys(ports) as Array<keyof typeof ports>) ports[k] = await freePort();
  box = new Sandbox();
  const login = box.script("login.sh", `echo '{"username":"app","password":"app-password"}'`);
  const cache = box.script("cache.sh", `echo '{"username":"cacheapp","password":"cache-password"}'`);
  box.writeConfig(
    [
      `[credentials.pg]\nsource = "command"\ncommand = ["${login}"]\n`,
      `[credentials.javaonly]\nsource = "command"\ncommand = ["${login}"]\nallow = [{ exe = "${java}" }]\n`,
      `[credentials.cache]\nsource = "command"\ncommand = ["${cache}"]\n`,
      `[databases.appdb]\ncredential = "pg"\nprotocol = "postgresql"\nserver = "127.0.0.1:${cluster.port}"\ntls = "disable"\ndatabases = ["app"]\nlisten = "127.0.0.1:${ports.pg}"\n`,
      `[databases.javaonly]\ncredential = "javaonly"\nprotocol = "postgresql"\nserver = "127.0.0.1:${cluster.port}"\ntls = "disable"\ndatabases = ["app"]\nlisten = "127.0.0.1:${ports.javaOnly}"\n`,
      `[databases.cache]\ncredential = "cache"\nprotocol = "redis"\nserver = "127.0.0.1:${redis.port}"\ntls = "disable"\nlisten = "127.0.0.1:${ports.redis}"\n`,
    ].join("\n"),
  );
  await box.start();
}, 120_000);

afterAll(async () => {
  await box?.cleanup();
  cluster?.stop();
  redis?.stop();
  if (classes) rmSync(classes, { recursive: true, force: true });
});

function run(argv: string[], user?: string) {
  const r = Bun.spawnSync(user ? ["runuser", "-u", user, "--", ...argv] : argv, {
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: box.root },
    cwd: REPO,
    stdout: "pipe",
    stderr: "pipe",
    timeout: 30_000,
  });
  return { code: r.exitCode, stdout: r.stdout.toString().trim(), stderr: r.stderr.toString() };
}

const psql = (port: number, sql: string, user?: string, extra = "") =>
  run([cluster.bin("psql"), "-X", "-A", "-t", "-d", `host=127.0.0.1 port=${port} dbname=app connect_timeout=10 ${extra}`, "-c", sql], user);
const jdbc = (port: number, sql: string) =>
  run([
    "java",
    "-cp",
    [classes, ...JAVA_JARS].join(":"),
    "JdbcQuery",
    `jdbc:postgresql://127.0.0.1:${port}/app?user=anyone&sslmode=disable`,
    sql,
  ]);

describe.skipIf(unavailable !== null)("a database's loopback TCP listener", () => {
  test("psql and JDBC (pgjdbc under Debian's JDK) log in over TCP with no password; credagent db lists the listener as served", async () => {
    expect(psql(ports.pg, "select current_user")).toMatchObject({ code: 0, stdout: "app" });
    const viaJdbc = jdbc(ports.pg, "select current_user, inet_client_addr()");
    expect(viaJdbc.stderr).toBe("");
    expect(viaJdbc.stdout).toBe("app 127.0.0.1");
    const list = JSON.parse((await box.run(["db", "--json"])).stdout) as Array<{
      name: string;
      transport: string;
      address: string;
      served: boolean;
    }>;
    expect(list.find((e) => e.name === "appdb" && e.transport === "tcp")).toMatchObject({ address: `127.0.0.1:${ports.pg}`, served: true });
  });

  test("the process behind a TCP connection is known (its socket's inode): application_name names node and its pid", () => {
    const code = `const { Client } = require("pg"); const c = new Client({ host: "127.0.0.1", port: Number(process.argv[1]), database: "app", user: "x" });
      c.connect().then(() => c.query("select application_name from pg_stat_activity where pid = pg_backend_pid()")).then((r) => { console.log(r.rows[0].application_name, process.pid); return c.end(); }).catch((e) => { console.error(e.message); process.exit(1); });`;
    const r = run(["node", "-e", code, String(ports.pg)]);
    expect(r.stderr).toBe("");
    const [name, pid] = r.stdout.split(" ");
    expect(name).toBe(`credagent:node[${pid}]`);
  });

  test("allow rules naming a program hold over TCP: the java rule lets JDBC in and keeps psql out", () => {
    expect(jdbc(ports.javaOnly, "select current_user")).toMatchObject({ stdout: "app", stderr: "" });
    const refused = psql(ports.javaOnly, "select 1");
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain("is not for this process");
  });

  test("redis-cli over the Redis database's listener: no password", () => {
    expect(run(["redis-cli", "-h", "127.0.0.1", "-p", String(ports.redis), "ACL", "WHOAMI"])).toMatchObject({
      code: 0,
      stdout: "cacheapp",
    });
  });

  test("a connection from another loopback address than the listener's is refused before any byte is relayed", () => {
    const code = `const net = require("node:net"); const s = net.connect({ host: "127.0.0.1", port: Number(process.argv[1]), localAddress: "127.0.0.2" });
      let got = ""; s.on("data", (d) => (got += d.toString("latin1"))); s.on("close", () => { console.log(JSON.stringify(got)); });
      s.on("connect", () => s.write(Buffer.from([0,0,0,8,4,210,22,47])));`;
    const r = run(["node", "-e", code, String(ports.pg)]);
    expect(r.stdout).toContain("only from 127.0.0.1");
    expect(r.stdout).not.toContain("app");
  });

  test.if(asRoot)("another uid is refused on the listener, and audited", () => {
    Bun.spawnSync(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", OTHER_USER]);
    // libpq first asks for TLS: the refusal comes as an error during that exchange.
    const refused = psql(ports.pg, "select current_user", OTHER_USER);
    expect(refused.code).not.toBe(0);
    expect(refused.stdout).toBe("");
    expect(refused.stderr).toContain("error response during SSL exchange");
    // Without that, the refusal's text is shown.
    const plain = psql(ports.pg, "select current_user", OTHER_USER, "sslmode=disable");
    expect(plain.code).not.toBe(0);
    expect(plain.stderr).toContain("this agent serves only its own user");
    const audit = readFileSync(join(box.stateDir, "credagent", "audit.log"), "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    const uid = Number(Bun.spawnSync(["id", "-u", OTHER_USER]).stdout.toString());
    expect(audit.some((e) => e.decision === "deny" && e.uid === uid)).toBe(true);
  });
});
