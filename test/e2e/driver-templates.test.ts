import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { join, resolve } from "node:path";
import { Sandbox } from "./harness.ts";

// [connections.X] templates in the jdbc and redis formats, rendered by the agent and read back by
// the real drivers: Debian's pgjdbc and MariaDB Connector/J (through a small Java program compiled
// here), redis-py, ioredis and node-redis, with user names and passwords full of the characters
// URLs give meaning to.
const JARS = ["/usr/share/java/postgresql.jar", "/usr/share/java/mariadb-java-client.jar"];
const unavailable =
  (Bun.which("javac") && Bun.which("java") ? null : "no JDK (apt-get install default-jdk-headless)") ??
  (JARS.every(existsSync) ? null : "the JDBC drivers are not installed (apt-get install libpostgresql-jdbc-java libmariadb-java)") ??
  (existsSync("/usr/lib/python3/dist-packages/redis") ? null : "python3-redis is not installed");
if (unavailable && process.env.CI === "true") throw new Error(`CI=true and ${unavailable}`);
if (unavailable) console.warn(`skipping the driver template tests: ${unavailable}`);

const REPO = resolve(import.meta.dir, "../..");
const USER = "app&user=x";
const PASSWORD = `p+/=%:@ ?#&'"x;{}`;
// MariaDB's driver cannot carry '&' in a value: its credential has every other character.
const MARIA_PASSWORD = `p+/=%:@ ?#'"x;{}`;

let box: Sandbox;
let classes: string;

beforeAll(async () => {
  if (unavailable) return;
  classes = mkdtempSync("/tmp/ca-jdbc-");
  const javac = Bun.spawnSync(["javac", "-d", classes, "-cp", JARS.join(":"), join(REPO, "test/fixtures/jdbc/JdbcUrl.java")], {
    stdout: "pipe",
    stderr: "pipe",
    timeout: 60_000,
  });
  if (javac.exitCode !== 0) throw new Error(`javac: ${javac.stderr.toString()}`);
  box = new Sandbox();
  const json = (u: string, p: string) => JSON.stringify(JSON.stringify({ username: u, password: p }));
  const nasty = box.script("nasty.sh", `printf '%s\\n' ${json(USER, PASSWORD)}`);
  const maria = box.script("maria.sh", `printf '%s\\n' ${json("app", MARIA_PASSWORD)}`);
  box.writeConfig(
    [
      `[credentials.nasty]\nsource = "command"\ncommand = ["${nasty}"]\n`,
      `[credentials.maria]\nsource = "command"\ncommand = ["${maria}"]\n`,
      `[connections.pgjdbc]\ncredential = "nasty"\ntemplate = "jdbc:postgresql://127.0.0.1:15432/app?user={username}&password={password}&sslmode=disable"\n`,
      `[connections.mariajdbc]\ncredential = "maria"\ntemplate = "jdbc:mariadb://127.0.0.1:13306/app?user={username}&password={password}"\n`,
      `[connections.mariaamp]\ncredential = "nasty"\ntemplate = "jdbc:mariadb://127.0.0.1:13306/app?password={password}"\n`,
      `[connections.redisurl]\ncredential = "nasty"\ntemplate = "redis://{username}:{password}@127.0.0.1:6390/3"\n`,
      `[connections.redisunix]\ncredential = "nasty"\ntemplate = "unix://{username}:{password}@/run/credagent/db/cache/redis.sock?db=2"\n`,
    ].join("\n"),
  );
  await box.start();
}, 90_000);

afterAll(async () => {
  await box?.cleanup();
  if (classes) rmSync(classes, { recursive: true, force: true });
});

const hex = (s: string) => Buffer.from(s).toString("hex");

async function rendered(name: string): Promise<string> {
  const r = await box.run(["connection", name]);
  if (r.code !== 0) throw new Error(`credagent connection ${name}: ${r.stderr}`);
  return r.stdout.trim();
}

describe.skipIf(unavailable !== null)("jdbc and redis templates read back by the real drivers", () => {
  test("pgjdbc and MariaDB Connector/J read the user and password the credential holds", async () => {
    const urls = [await rendered("pgjdbc"), await rendered("mariajdbc")];
    const r = Bun.spawnSync(["java", "-cp", [classes, ...JARS].join(":"), "JdbcUrl", ...urls], {
      stdout: "pipe",
      stderr: "pipe",
      timeout: 30_000,
    });
    expect(r.stderr.toString()).toBe("");
    expect(r.stdout.toString().trim().split("\n")).toEqual([`${hex(USER)} ${hex(PASSWORD)}`, `${hex("app")} ${hex(MARIA_PASSWORD)}`]);
  });

  test("a password MariaDB's driver cannot carry is refused with what to do, not rendered wrong", async () => {
    const r = await box.run(["connection", "mariaamp"]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("which a MariaDB JDBC URL cannot carry");
  });

  test("redis-py, ioredis and node-redis read the redis:// and unix:// URLs' user, password and database", async () => {
    const url = await rendered("redisurl");
    const unix = await rendered("redisunix");
    const py = Bun.spawnSync(
      [
        "/usr/bin/python3",
        "-c",
        `import sys, redis
for u in sys.argv[1:]:
    k = redis.ConnectionPool.from_url(u).connection_kwargs
    print(k["username"].encode().hex(), k["password"].encode().hex(), k.get("db"), k.get("path", k.get("host")))`,
        url,
        unix,
      ],
      { stdout: "pipe", stderr: "pipe", timeout: 20_000 },
    );
    expect(py.stderr.toString()).toBe("");
    expect(py.stdout.toString().trim().split("\n")).toEqual([
      `${hex(USER)} ${hex(PASSWORD)} 3 127.0.0.1`,
      `${hex(USER)} ${hex(PASSWORD)} 2 /run/credagent/db/cache/redis.sock`,
    ]);
    const node = Bun.spawnSync(
      [
        "node",
        "-e",
        `const Redis = require("ioredis"); const { createClient } = require("redis");
         const io = new Redis(process.argv[1], { lazyConnect: true });
         const nr = createClient({ url: process.argv[1] });
         const h = (s) => Buffer.from(s).toString("hex");
         console.log(h(io.options.username), h(io.options.password), io.options.db);
         console.log(h(nr.options.username), h(nr.options.password), nr.options.database);`,
        url,
      ],
      { cwd: REPO, stdout: "pipe", stderr: "pipe", timeout: 20_000 },
    );
    expect(node.stderr.toString()).toBe("");
    expect(node.stdout.toString().trim().split("\n")).toEqual([`${hex(USER)} ${hex(PASSWORD)} 3`, `${hex(USER)} ${hex(PASSWORD)} 3`]);
  });
});
