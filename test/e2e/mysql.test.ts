import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import { dirname, join, resolve } from "node:path";
import { Sandbox } from "./harness.ts";
import { type MariadbServer, mariadbUnavailable, rotatingMariadbPasswordScript, startMariadb } from "../support/mariadb.ts";

// credagent as a MySQL/MariaDB auth proxy, against Debian's real MariaDB with TLS from a test CA,
// a mysql_native_password user whose password really rotates and a client_ed25519 user: the real
// clients (mariadb CLI, mysql2, PyMySQL, mysqlclient) connect to the agent's socket with no password.
const unavailable =
  mariadbUnavailable() ??
  (Bun.which("openssl") ? null : "openssl is not installed") ??
  (existsSync("/usr/lib/python3/dist-packages/pymysql") ? null : "python3-pymysql is not installed") ??
  (existsSync("/usr/lib/python3/dist-packages/MySQLdb") ? null : "python3-mysqldb is not installed");
if (unavailable && process.env.CI === "true") throw new Error(`CI=true and ${unavailable}`);
if (unavailable) console.warn(`skipping the MySQL proxy tests: ${unavailable}`);

const REPO = resolve(import.meta.dir, "../..");
const OTHER_USER = "credagent-e2e";
const asRoot = process.getuid!() === 0 && Bun.which("useradd") !== null && Bun.which("runuser") !== null;

let server: MariadbServer;
let box: Sandbox;
let certs: string;
const countFile = () => join(box.root, "rotations");
const dbDir = (name: string) => join(box.runtimeDir, "credagent", "db", name);
const sock = (name: string) => join(dbDir(name), "mysql.sock");

function openssl(args: string[]): void {
  const r = Bun.spawnSync(["openssl", ...args], { cwd: certs, stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`openssl ${args[0]} failed: ${r.stderr.toString()}`);
}

/** A CA, a server certificate it signs for 127.0.0.1, and a second CA that signed nothing of ours. */
function makeCerts(): void {
  certs = mkdtempSync("/tmp/ca-mytls-");
  for (const ca of ["ca", "wrong-ca"])
    openssl([
      "req",
      "-x509",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-keyout",
      `${ca}.key`,
      "-out",
      `${ca}.crt`,
      "-days",
      "2",
      "-subj",
      `/CN=credagent test ${ca}`,
    ]);
  openssl(["req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1"]);
  writeFileSync(join(certs, "san.ext"), "subjectAltName=IP:127.0.0.1\n");
  openssl([
    "x509",
    "-req",
    "-in",
    "server.csr",
    "-CA",
    "ca.crt",
    "-CAkey",
    "ca.key",
    "-CAcreateserial",
    "-out",
    "server.crt",
    "-days",
    "2",
    "-extfile",
    "san.ext",
  ]);
  // mariadbd may run as another user than the test's files' owner: readable by all (a test key).
  for (const f of ["server.key", "server.crt", "ca.crt"]) chmodSync(join(certs, f), 0o644);
  chmodSync(certs, 0o755);
}

beforeAll(async () => {
  if (unavailable) return;
  makeCerts();
  server = await startMariadb({
    tls: { certFile: join(certs, "server.crt"), keyFile: join(certs, "server.key"), caFile: join(certs, "ca.crt") },
  });
  server.sql(
    [
      "INSTALL SONAME 'auth_ed25519';",
      "CREATE DATABASE app;",
      "CREATE USER 'app'@'%' IDENTIFIED VIA mysql_native_password USING PASSWORD('initial-password');",
      "GRANT ALL ON app.* TO 'app'@'%';",
      "GRANT SELECT ON performance_schema.* TO 'app'@'%';",
      "CREATE USER 'edu'@'%' IDENTIFIED VIA ed25519 USING PASSWORD('an ed25519 password, longer than thirty-two bytes');",
      "GRANT ALL ON app.* TO 'edu'@'%';",
      // TLS required for every TCP login of app: the proxy must encrypt toward the server.
      "ALTER USER 'app'@'%' REQUIRE SSL;",
    ].join("\n"),
  );
  box = new Sandbox();
  const rotate = box.script("rotate.sh", rotatingMariadbPasswordScript(server, "app", 8, countFile()));
  const failing = box.script("failing.sh", "echo 'the identity provider is down' >&2; exit 1");
  const ed = box.script("ed.sh", `echo '{"username":"edu","password":"an ed25519 password, longer than thirty-two bytes"}'`);
  const database = (name: string, o: { credential: string; tls: string; ca?: string }) =>
    `[databases.${name}]\ncredential = "${o.credential}"\nprotocol = "mysql"\nserver = "127.0.0.1:${server.port}"\ntls = "${o.tls}"\n` +
    (o.ca ? `ca_file = "${join(certs, o.ca)}"\n` : "");
  box.writeConfig(
    [
      `[credentials.my]\nsource = "command"\ncommand = ["${rotate}"]\nrefresh_before = "4s"\n`,
      `[credentials.ed]\nsource = "command"\ncommand = ["${ed}"]\n`,
      `[credentials.down]\nsource = "command"\ncommand = ["${failing}"]\n`,
      database("appdb", { credential: "my", tls: "verify-full", ca: "ca.crt" }),
      database("wrongca", { credential: "my", tls: "verify-full", ca: "wrong-ca.crt" }),
      database("eddb", { credential: "ed", tls: "disable" }),
      database("broken", { credential: "down", tls: "disable" }),
    ].join("\n"),
  );
  await box.start();
}, 90_000);

afterAll(async () => {
  await box?.cleanup();
  server?.stop();
  if (certs) rmSync(certs, { recursive: true, force: true });
});

const clientEnv = () => ({ PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: box.root });

/** The mariadb CLI on a socket, no password, no option files; `user` runs it as that Unix user. */
function mariadb(socket: string, sql: string, user?: string) {
  const argv = ["mariadb", "--no-defaults", "-S", socket, "-u", "whoever", "-N", "-B", "--connect-timeout=10", "app", "-e", sql];
  return Bun.spawn(user ? ["runuser", "-u", user, "--", ...argv] : argv, { env: clientEnv(), stdout: "pipe", stderr: "pipe" });
}

async function outcome(proc: ReturnType<typeof mariadb>) {
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { stdout: stdout.trim(), stderr, code };
}

function node(code: string, ...args: string[]) {
  const r = Bun.spawnSync(["node", "-e", code, ...args], { cwd: REPO, stdout: "pipe", stderr: "pipe", timeout: 20_000 });
  return { stdout: r.stdout.toString().trim(), stderr: r.stderr.toString() };
}

function python(code: string, ...args: string[]) {
  const r = Bun.spawnSync(["/usr/bin/python3", "-c", code, ...args], { env: clientEnv(), stdout: "pipe", stderr: "pipe", timeout: 20_000 });
  return { stdout: r.stdout.toString().trim(), stderr: r.stderr.toString() };
}

describe.skipIf(unavailable !== null)("the MySQL proxy", () => {
  test("the socket is DIR/mysql.sock, private", () => {
    expect(existsSync(sock("appdb"))).toBe(true);
    expect(
      Bun.spawnSync(["stat", "-c", "%a", sock("appdb"), dbDir("appdb"), dirname(dirname(dbDir("appdb")))])
        .stdout.toString()
        .split("\n")
        .slice(0, 3),
    ).toEqual(["600", "700", "700"]);
  });

  test("the mariadb CLI logs in with no password, as the credential's user, over TLS to the server", async () => {
    const r = await outcome(mariadb(sock("appdb"), "SELECT CURRENT_USER(), DATABASE(); SHOW SESSION STATUS LIKE 'Ssl_version'"));
    expect(r.stderr).toBe("");
    const [who, tls] = r.stdout.split("\n");
    expect(who).toBe("app@%\tapp");
    expect(tls).toMatch(/^Ssl_version\tTLSv1\.[23]$/);
  });

  test("mysql2 (socketPath) logs in with no password under node; COM_CHANGE_USER is re-authenticated as the credential, COM_RESET_CONNECTION passes", () => {
    const code = `const mysql = require("mysql2");
      const c = mysql.createConnection({ socketPath: process.argv[1], user: "nobody", database: "app" });
      const q = (sql) => new Promise((ok, fail) => c.query(sql, (e, rows) => (e ? fail(e) : ok(rows))));
      (async () => {
        const first = await q("SELECT CURRENT_USER() AS u, DATABASE() AS d");
        await q("SET @marker = 42");
        await new Promise((ok, fail) => c.changeUser({ user: "root", password: "a guess", database: "app" }, (e) => (e ? fail(e) : ok())));
        const changed = await q("SELECT CURRENT_USER() AS u, DATABASE() AS d, @marker AS m");
        await q("SET @marker = 43");
        await new Promise((ok, fail) => c.reset((e) => (e ? fail(e) : ok())));
        const reset = await q("SELECT CURRENT_USER() AS u, @marker AS m");
        console.log(JSON.stringify({ first: first[0], changed: changed[0], reset: reset[0] }));
        c.end();
      })().catch((e) => { console.error(e.message); process.exit(1); });`;
    const r = node(code, sock("appdb"));
    expect(r.stderr).toBe("");
    // The client asked for root with a password of its own; it got the credential's user, in a fresh session.
    const out = JSON.parse(r.stdout);
    expect(out.first).toEqual({ u: "app@%", d: "app" });
    expect(out.changed.u).toBe("app@%");
    expect(out.changed.m).toBeNull();
    expect(out.reset).toEqual({ u: "app@%", m: null });
  });

  test("PyMySQL (unix_socket) and mysqlclient (MySQLdb) log in with no password", () => {
    const pymysql = python(
      `import sys, pymysql
c = pymysql.connect(unix_socket=sys.argv[1], user="x", database="app")
with c.cursor() as cur:
    cur.execute("SELECT CURRENT_USER()")
    print(cur.fetchone()[0])`,
      sock("appdb"),
    );
    expect(pymysql.stderr).toBe("");
    expect(pymysql.stdout).toBe("app@%");
    const mysqldb = python(
      `import sys, MySQLdb
c = MySQLdb.connect(unix_socket=sys.argv[1], user="x", db="app")
cur = c.cursor()
cur.execute("SELECT CURRENT_USER()")
print(cur.fetchone()[0])`,
      sock("appdb"),
    );
    expect(mysqldb.stderr).toBe("");
    expect(mysqldb.stdout).toBe("app@%");
  });

  test("MariaDB's client_ed25519: the server switches the proxy's login to ed25519 and accepts its signature", async () => {
    const r = await outcome(mariadb(sock("eddb"), "SELECT CURRENT_USER()"));
    expect(r.stderr).toBe("");
    expect(r.stdout).toBe("edu@%");
    expect(server.sql("SELECT plugin FROM mysql.user WHERE user = 'edu'")).toBe("ed25519");
  });

  test("the server sees the real program in the connection attributes", () => {
    const code = `const mysql = require("mysql2");
      const c = mysql.createConnection({ socketPath: process.argv[1], database: "app" });
      c.query("SELECT ATTR_NAME, ATTR_VALUE FROM performance_schema.session_connect_attrs WHERE PROCESSLIST_ID = CONNECTION_ID() AND ATTR_NAME IN ('program_name', 'credagent_program', '_client_name')", (e, rows) => {
        if (e) { console.error(e.message); process.exit(1); }
        console.log(JSON.stringify(Object.fromEntries(rows.map((r) => [r.ATTR_NAME, r.ATTR_VALUE])), null, 0) + " " + process.pid + " " + require("node:fs").realpathSync(process.execPath));
        c.end();
      });`;
    const r = node(code, sock("appdb"));
    expect(r.stderr).toBe("");
    const [json, pid, exe] = r.stdout.split(" ");
    const attrs = JSON.parse(json!);
    expect(attrs._client_name).toBe("Node-MySQL-2");
    expect(attrs.program_name).toBe(`credagent:node[${pid}]`);
    expect(attrs.credagent_program).toBe(`${exe}[${pid}]`);
  });

  test("a credential that cannot be had is ERR 1045 / 28000 with the agent's message, not a hang", () => {
    const started = Date.now();
    const r = node(
      `require("mysql2").createConnection({ socketPath: process.argv[1] }).connect((e) => { console.log(JSON.stringify({ code: e && e.errno, state: e && e.sqlState, message: e && e.message })); process.exit(0); });`,
      sock("broken"),
    );
    const answer = JSON.parse(r.stdout);
    expect(answer.code).toBe(1045);
    expect(answer.state).toBe("28000");
    expect(answer.message).toContain("credagent:");
    expect(answer.message).toContain("the identity provider is down");
    expect(Date.now() - started).toBeLessThan(15_000);
  });

  test("verify-full with the wrong CA refuses before any password is sent", async () => {
    const r = await outcome(mariadb(sock("wrongca"), "SELECT 1"));
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("TLS with the database server");
    expect(r.stderr).toContain("no password was sent");
  });
});
