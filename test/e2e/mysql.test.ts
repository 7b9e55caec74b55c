import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, existsSync, readFileSync } from "node:fs";
import net from "node:net";
import { dirname, join, resolve } from "node:path";
import mysqlPromise from "mysql2/promise";
import { Sandbox, waitFor } from "./harness.ts";
import { makeTestCerts, type TestCerts } from "../support/certs.ts";
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
let certs: TestCerts;
const countFile = () => join(box.root, "rotations");
const dbDir = (name: string) => join(box.runtimeDir, "credagent", "db", name);
const sock = (name: string) => join(dbDir(name), "mysql.sock");

beforeAll(async () => {
  if (unavailable) return;
  certs = makeTestCerts();
  server = await startMariadb({
    tls: { certFile: certs.certFile, keyFile: certs.keyFile, caFile: certs.caFile },
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
  const wrong = box.script("wrong.sh", `echo '{"username":"edu","password":"not the password"}'`);
  const ed = box.script("ed.sh", `echo '{"username":"edu","password":"an ed25519 password, longer than thirty-two bytes"}'`);
  const database = (name: string, o: { credential: string; tls: string; ca?: string }) =>
    `[databases.${name}]\ncredential = "${o.credential}"\nprotocol = "mysql"\nserver = "127.0.0.1:${server.port}"\ntls = "${o.tls}"\n` +
    (o.ca ? `ca_file = "${o.ca}"\n` : "");
  box.writeConfig(
    [
      `[credentials.my]\nsource = "command"\ncommand = ["${rotate}"]\nrefresh_before = "4s"\n`,
      `[credentials.ed]\nsource = "command"\ncommand = ["${ed}"]\n`,
      `[credentials.down]\nsource = "command"\ncommand = ["${failing}"]\n`,
      `[credentials.wrongpw]\nsource = "command"\ncommand = ["${wrong}"]\n`,
      database("appdb", { credential: "my", tls: "verify-full", ca: certs.caFile }),
      database("wrongca", { credential: "my", tls: "verify-full", ca: certs.wrongCaFile }),
      database("eddb", { credential: "ed", tls: "disable" }),
      database("broken", { credential: "down", tls: "disable" }),
      database("wrongpw", { credential: "wrongpw", tls: "disable" }),
    ].join("\n"),
  );
  await box.start();
}, 90_000);

afterAll(async () => {
  await box?.cleanup();
  server?.stop();
  certs?.remove();
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

const rotations = () => (existsSync(countFile()) ? readFileSync(countFile(), "utf8").split("\n").length - 1 : 0);

interface RawEnd {
  greeted: boolean;
  error: { code: number; state: string; message: string } | null;
  elapsedMs: number;
}

/** A client that reads the greeting, then sends `packets` as they are (or nothing) and waits for the close. */
async function rawClient(socket: string, packets: Uint8Array[]): Promise<{ closed: Promise<RawEnd> }> {
  const started = Date.now();
  const conn = net.connect(socket);
  let data = Buffer.alloc(0);
  let greeted = false;
  const closed = new Promise<RawEnd>((resolve) => {
    conn.on("data", (chunk: Buffer) => {
      data = Buffer.concat([data, chunk]);
      if (!greeted && data.length >= 4 && data.length >= 4 + data.readUIntLE(0, 3)) {
        greeted = data[4] === 10;
        data = data.subarray(4 + data.readUIntLE(0, 3));
        for (const p of packets) conn.write(p);
      }
    });
    conn.on("error", () => {});
    conn.on("close", () => {
      const err =
        data.length > 7 && data[4] === 0xff
          ? {
              code: data.readUInt16LE(5),
              state: data.subarray(8, 13).toString(),
              message: data.subarray(13, 4 + data.readUIntLE(0, 3)).toString(),
            }
          : null;
      resolve({ greeted, error: err, elapsedMs: Date.now() - started });
    });
  });
  await new Promise<void>((resolve) => conn.once("connect", () => resolve()));
  return { closed };
}

/** An SSLRequest: 32 bytes with CLIENT_SSL and PROTOCOL_41, sequence 1. */
function sslRequestPacket(): Uint8Array {
  const body = Buffer.alloc(32);
  body.writeUInt32LE(0x800 | 0x200 | 0x8000, 0);
  body.writeUInt32LE(1 << 24, 4);
  body[8] = 45;
  return Buffer.concat([Buffer.from([32, 0, 0, 1]), body]);
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

  test("across three or more rotations of the user's password, the mariadb CLI and mysql2 connect with no failure, mysqlslap (a connection per query) meanwhile too; an open session survives", async () => {
    const held = await mysqlPromise.createConnection({ socketPath: sock("appdb"), database: "app" });
    try {
      const runsBefore = rotations();
      const failures: string[] = [];
      let cli = 0;
      let library = 0;
      let slapped = 0;
      const until = Date.now() + 20_000;
      const cliLoop = (async () => {
        while (Date.now() < until) {
          const r = await outcome(mariadb(sock("appdb"), "SELECT CURRENT_USER()"));
          cli += 1;
          if (r.code !== 0 || r.stdout !== "app@%") failures.push(`mariadb ${new Date().toISOString()} ${r.code} ${r.stderr}`);
        }
      })();
      const libraryLoop = (async () => {
        while (Date.now() < until) {
          try {
            const c = await mysqlPromise.createConnection({ socketPath: sock("appdb"), database: "app" });
            const [rows] = await c.query("SELECT CURRENT_USER() AS u");
            await c.end();
            if ((rows as Array<{ u: string }>)[0]?.u !== "app@%") failures.push(`mysql2: ${JSON.stringify(rows)}`);
          } catch (err) {
            failures.push(`mysql2 ${new Date().toISOString()} ${(err as Error).message}`);
          }
          library += 1;
        }
      })();
      // mysqlslap: 2 clients, a new connection per query, 20 connections a run, runs until the end.
      const slapLoop = (async () => {
        while (Date.now() < until) {
          const r = await outcome(
            Bun.spawn(
              ["mysqlslap", "--no-defaults", "-S", sock("appdb"), "-u", "x", "--create-schema=app", "--no-drop", "--query=SELECT 1"].concat(
                ["--concurrency=2", "--iterations=10", "--number-of-queries=2", "--silent"],
              ),
              { env: clientEnv(), stdout: "pipe", stderr: "pipe" },
            ) as unknown as ReturnType<typeof mariadb>,
          );
          if (r.code !== 0 || r.stderr !== "") failures.push(`mysqlslap ${new Date().toISOString()} ${r.code} ${r.stderr}`);
          else slapped += 20;
        }
      })();
      await Promise.all([cliLoop, libraryLoop, slapLoop]);
      const runs = rotations();
      const overtaken = box.agentLog.split("\n").filter((l) => l.includes("password overtaken by a rotation")).length;
      console.log(
        `mariadb: ${cli} connections, mysql2: ${library}, mysqlslap: ${slapped}; ${runs - runsBefore} rotations; logins retried after a rotation: ${overtaken}`,
      );
      expect(failures).toEqual([]);
      expect(slapped).toBeGreaterThanOrEqual(40);
      expect(runs - runsBefore).toBeGreaterThanOrEqual(3);
      expect(cli).toBeGreaterThanOrEqual(10);
      expect(library).toBeGreaterThanOrEqual(10);
      // Opened before the rotations: the server checked its password once.
      const [rows] = await held.query("SELECT CURRENT_USER() AS u");
      expect((rows as Array<{ u: string }>)[0]?.u).toBe("app@%");
    } finally {
      await held.end().catch(() => {});
    }
  }, 90_000);

  test("a client that never answers the greeting, or sends garbage, costs its own connection: the others are served, the agent lives, the server sees no aborted login", async () => {
    const abortedBefore = Number(server.sql("SHOW GLOBAL STATUS LIKE 'Aborted_connects'").split("\t")[1]);
    const silentSince = Date.now();
    const silent = await Promise.all(Array.from({ length: 20 }, () => rawClient(sock("eddb"), [])));
    // A packet over the 64 KiB a login may be; a packet that ends early; an SSLRequest.
    const oversized = await rawClient(sock("eddb"), [Uint8Array.of(0xff, 0xff, 0x10, 1, 0)]);
    const short = await rawClient(sock("eddb"), [Uint8Array.of(3, 0, 0, 1, 0x05, 0x82, 0x00)]);
    const ssl = await rawClient(sock("eddb"), [sslRequestPacket()]);
    for (const c of [oversized, short, ssl]) {
      const answer = await c.closed;
      expect(answer.greeted).toBe(true);
      expect(answer.error?.state).toBe("28000");
    }
    expect((await ssl.closed).error?.message).toContain("does not do TLS");
    expect((await oversized.closed).error?.message).toContain("over the 65536 allowed");
    // Meanwhile the socket serves others at once.
    const started = Date.now();
    const r = await outcome(mariadb(sock("eddb"), "SELECT CURRENT_USER()"));
    expect(r.stdout).toBe("edu@%");
    expect(Date.now() - started).toBeLessThan(5_000);
    // The server connections opened for them are let go after 5 s (before the server's own
    // connect_timeout, 10 s), while the clients still hold theirs.
    await Bun.sleep(Math.max(0, silentSince + 7_500 - Date.now()));
    const threadsWhileSilent = Number(server.sql("SHOW GLOBAL STATUS LIKE 'Threads_connected'").split("\t")[1]);
    expect(threadsWhileSilent).toBeLessThanOrEqual(2);
    // The silent ones are greeted, then closed at the handshake deadline (10 s) with a reason.
    const ends = await Promise.all(silent.map((c) => c.closed));
    for (const end of ends) {
      expect(end.greeted).toBe(true);
      expect(end.error?.message).toContain("did not answer the server's greeting within 10 s");
      expect(end.elapsedMs).toBeGreaterThan(9_000);
      expect(end.elapsedMs).toBeLessThan(14_000);
    }
    expect((await box.request("GET", "/v1/health")).status).toBe(200);
    // Each server connection made for them logged in and quit: none counts against the host.
    await waitFor(
      () => Number(server.sql("SHOW GLOBAL STATUS LIKE 'Threads_connected'").split("\t")[1]) <= 2,
      5_000,
      "the server connections to close",
    );
    expect(Number(server.sql("SHOW GLOBAL STATUS LIKE 'Aborted_connects'").split("\t")[1])).toBe(abortedBefore);
  }, 30_000);

  test("a password the server refuses is not sent again until the credential changes; the client is told what to do", async () => {
    const denied = () => Number(server.sql("SHOW GLOBAL STATUS LIKE 'Access_denied_errors'").split("\t")[1]);
    const before = denied();
    const first = await outcome(mariadb(sock("wrongpw"), "SELECT 1"));
    expect(first.code).not.toBe(0);
    expect(first.stderr).toContain("refused the password of credential 'wrongpw'");
    expect(first.stderr).toContain("credagent secret set wrongpw");
    expect(denied()).toBe(before + 1);
    const again = await outcome(mariadb(sock("wrongpw"), "SELECT 1"));
    expect(again.code).not.toBe(0);
    expect(again.stderr).toContain("a moment ago, and it has not changed since");
    expect(denied()).toBe(before + 1);
  }, 30_000);

  test.if(asRoot)(
    "another user's process is refused: at the socket's permissions, and by its peer credentials when those are loosened",
    async () => {
      Bun.spawnSync(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", OTHER_USER]);
      const blocked = await outcome(mariadb(sock("appdb"), "SELECT 1", OTHER_USER));
      expect(blocked.code).not.toBe(0);
      expect(blocked.stderr).toContain("(13)");
      const dirs = [box.root, box.runtimeDir, join(box.runtimeDir, "credagent"), join(box.runtimeDir, "credagent", "db"), dbDir("appdb")];
      for (const dir of dirs) chmodSync(dir, 0o711);
      chmodSync(sock("appdb"), 0o777);
      try {
        const refused = await outcome(mariadb(sock("appdb"), "SELECT CURRENT_USER()", OTHER_USER));
        expect(refused.code).not.toBe(0);
        expect(refused.stdout).toBe("");
        expect(refused.stderr).toMatch(/Lost connection|handshake/);
        const audit = readFileSync(join(box.stateDir, "credagent", "audit.log"), "utf8")
          .trim()
          .split("\n")
          .map((l) => JSON.parse(l));
        expect(audit.some((e) => e.decision === "deny" && e.database === "appdb" && e.reason === "another user's process")).toBe(true);
      } finally {
        for (const dir of dirs) chmodSync(dir, 0o700);
      }
    },
  );
});
