import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { join, resolve } from "node:path";
import { Sandbox } from "./harness.ts";
import { type MariadbServer, mariadbUnavailable, startMariadb } from "../support/mariadb.ts";
import { freePort } from "../support/ports.ts";

// MariaDB Connector/J (Debian's libmariadb-java) over a MySQL database's loopback TCP listener
// (`listen`), with no password, under Debian's JDK; the mariadb CLI over the same listener; and
// another uid refused there before any byte reaches the server.
const JARS = ["/usr/share/java/mariadb-java-client.jar"];
const unavailable =
  mariadbUnavailable() ??
  (Bun.which("javac") && Bun.which("java") ? null : "no JDK (apt-get install default-jdk-headless)") ??
  (JARS.every(existsSync) ? null : "MariaDB Connector/J is not installed (apt-get install libmariadb-java)");
if (unavailable && process.env.CI === "true") throw new Error(`CI=true and ${unavailable}`);
if (unavailable) console.warn(`skipping the MariaDB JDBC listener tests: ${unavailable}`);

const REPO = resolve(import.meta.dir, "../..");
const OTHER_USER = "credagent-e2e";
const asRoot = process.getuid!() === 0 && Bun.which("useradd") !== null && Bun.which("runuser") !== null;

let server: MariadbServer;
let box: Sandbox;
let classes: string;
let port = 0;

beforeAll(async () => {
  if (unavailable) return;
  classes = mkdtempSync("/tmp/ca-jdbc-");
  const javac = Bun.spawnSync(["javac", "-d", classes, join(REPO, "test/fixtures/jdbc/JdbcQuery.java")], {
    stdout: "pipe",
    stderr: "pipe",
    timeout: 60_000,
  });
  if (javac.exitCode !== 0) throw new Error(`javac: ${javac.stderr.toString()}`);
  server = await startMariadb();
  server.sql(
    [
      "CREATE DATABASE app;",
      "CREATE USER 'app'@'%' IDENTIFIED VIA mysql_native_password USING PASSWORD('app-password');",
      "GRANT ALL ON app.* TO 'app'@'%';",
    ].join("\n"),
  );
  port = await freePort();
  box = new Sandbox();
  const login = box.script("login.sh", `echo '{"username":"app","password":"app-password"}'`);
  box.writeConfig(
    `[credentials.my]\nsource = "command"\ncommand = ["${login}"]\n\n` +
      `[databases.maria]\ncredential = "my"\nprotocol = "mysql"\nserver = "127.0.0.1:${server.port}"\ntls = "disable"\nlisten = "127.0.0.1:${port}"\n`,
  );
  await box.start();
}, 120_000);

afterAll(async () => {
  await box?.cleanup();
  server?.stop();
  if (classes) rmSync(classes, { recursive: true, force: true });
});

function run(argv: string[], user?: string) {
  const r = Bun.spawnSync(user ? ["runuser", "-u", user, "--", ...argv] : argv, {
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: box.root },
    stdout: "pipe",
    stderr: "pipe",
    timeout: 30_000,
  });
  return { code: r.exitCode, stdout: r.stdout.toString().trim(), stderr: r.stderr.toString() };
}

const WHO = "SELECT SUBSTRING_INDEX(CURRENT_USER(), '@', 1)";

describe.skipIf(unavailable !== null)("MariaDB over a database's loopback TCP listener", () => {
  test("MariaDB Connector/J logs in with no password", () => {
    const r = run([
      "java",
      "-cp",
      [classes, ...JARS].join(":"),
      "JdbcQuery",
      `jdbc:mariadb://127.0.0.1:${port}/app?user=anyone`,
      `${WHO}, DATABASE()`,
    ]);
    expect(r.stderr).toBe("");
    expect(r.stdout).toBe("app app");
  });

  test("the mariadb CLI over TCP, no password", () => {
    expect(run(["mariadb", "-h", "127.0.0.1", "-P", String(port), "--protocol=TCP", "-N", "-B", "-e", WHO, "app"])).toMatchObject({
      code: 0,
      stdout: "app",
    });
  });

  test.if(asRoot)("another uid is refused on the listener", () => {
    Bun.spawnSync(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", OTHER_USER]);
    const refused = run(["mariadb", "-h", "127.0.0.1", "-P", String(port), "--protocol=TCP", "-N", "-B", "-e", WHO, "app"], OTHER_USER);
    expect(refused.code).not.toBe(0);
    expect(refused.stdout).toBe("");
    expect(refused.stderr).toContain("this agent serves only its own user");
  });
});
