import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { Sandbox } from "./harness.ts";
import { makeTestCerts, type TestCerts } from "../support/certs.ts";
import { aclUser, type RedisServer, redisUnavailable, rotatingRedisPasswordScript, startRedis } from "../support/redis.ts";

// credagent as a Redis auth proxy, against Debian's real redis-server (an ACL user whose password
// really rotates, and one with TLS from a test CA): clients connect to the agent's socket with no
// password, and their own AUTH never reaches the server.
const unavailable =
  redisUnavailable() ??
  (Bun.which("openssl") ? null : "openssl is not installed") ??
  (existsSync("/usr/lib/python3/dist-packages/redis") ? null : "python3-redis is not installed");
if (unavailable && process.env.CI === "true") throw new Error(`CI=true and ${unavailable}`);
if (unavailable) console.warn(`skipping the Redis proxy tests: ${unavailable}`);

const REPO = resolve(import.meta.dir, "../..");
const OTHER_USER = "credagent-e2e";
const asRoot = process.getuid!() === 0 && Bun.which("useradd") !== null && Bun.which("runuser") !== null;

let server: RedisServer;
let tlsServer: RedisServer;
let certs: TestCerts;
let box: Sandbox;
const countFile = () => join(box.root, "rotations");
const sock = (name: string) => join(box.runtimeDir, "credagent", "db", name, "redis.sock");

beforeAll(async () => {
  if (unavailable) return;
  certs = makeTestCerts();
  server = await startRedis();
  tlsServer = await startRedis({ tls: { certFile: certs.certFile, keyFile: certs.keyFile, caFile: certs.caFile } });
  aclUser(tlsServer, "tlsapp", "tls-password");
  box = new Sandbox();
  const rotate = box.script("rotate.sh", rotatingRedisPasswordScript(server, "app", 8, countFile()));
  const failing = box.script("failing.sh", "echo 'the identity provider is down' >&2; exit 1");
  const tlsLogin = box.script("tls.sh", `echo '{"username":"tlsapp","password":"tls-password"}'`);
  aclUser(server, "fileapp", "first-password");
  writeFileSync(join(box.root, "filepw.json"), `{"username":"fileapp","password":"first-password"}`);
  const fromFile = box.script("filepw.sh", `cat ${join(box.root, "filepw.json")}`);
  const database = (name: string, o: { credential: string; port: number; tls: string; ca?: string }) =>
    `[databases.${name}]\ncredential = "${o.credential}"\nprotocol = "redis"\nserver = "127.0.0.1:${o.port}"\ntls = "${o.tls}"\n` +
    (o.ca ? `ca_file = "${o.ca}"\n` : "");
  box.writeConfig(
    [
      `[credentials.rd]\nsource = "command"\ncommand = ["${rotate}"]\nrefresh_before = "4s"\n`,
      `[credentials.down]\nsource = "command"\ncommand = ["${failing}"]\n`,
      `[credentials.tlslogin]\nsource = "command"\ncommand = ["${tlsLogin}"]\n`,
      `[credentials.filepw]\nsource = "command"\ncommand = ["${fromFile}"]\n`,
      database("cache", { credential: "rd", port: server.port, tls: "disable" }),
      database("broken", { credential: "down", port: server.port, tls: "disable" }),
      database("fromfile", { credential: "filepw", port: server.port, tls: "disable" }),
      database("secure", { credential: "tlslogin", port: tlsServer.port, tls: "verify-full", ca: certs.caFile }),
      database("wrongca", { credential: "tlslogin", port: tlsServer.port, tls: "verify-full", ca: certs.wrongCaFile }),
    ].join("\n"),
  );
  await box.start();
}, 60_000);

afterAll(async () => {
  await box?.cleanup();
  server?.stop();
  tlsServer?.stop();
  certs?.remove();
});

function cli(socket: string, args: string[], input?: string, user?: string) {
  const argv = ["redis-cli", "-s", socket, ...args];
  const r = Bun.spawnSync(user ? ["runuser", "-u", user, "--", ...argv] : argv, {
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: box.root },
    stdin: input === undefined ? "ignore" : new Blob([input]),
    stdout: "pipe",
    stderr: "pipe",
    timeout: 15_000,
  });
  return { code: r.exitCode, stdout: r.stdout.toString().trim(), stderr: r.stderr.toString() };
}

/** Bytes written in one go to the socket, and what comes back until `until` is seen (or 5 s). */
async function raw(socket: string, bytes: string, until: (text: string) => boolean): Promise<string> {
  let text = "";
  const { promise, resolve: done } = Promise.withResolvers<void>();
  const conn = await Bun.connect({
    unix: socket,
    socket: {
      data(_s, chunk) {
        text += new TextDecoder().decode(chunk);
        if (until(text)) done();
      },
      close: () => done(),
      error: () => done(),
    },
  });
  conn.write(bytes);
  const timer = setTimeout(done, 5_000);
  await promise;
  clearTimeout(timer);
  conn.end();
  return text;
}

function commandStats(): Record<string, number> {
  const out: Record<string, number> = {};
  for (const m of server.cli("INFO commandstats\n").matchAll(/cmdstat_([a-z|]+):calls=(\d+)/g)) out[m[1]!] = Number(m[2]);
  return out;
}

function node(code: string, ...args: string[]) {
  const r = Bun.spawnSync(["node", "-e", code, ...args], { cwd: REPO, stdout: "pipe", stderr: "pipe", timeout: 20_000 });
  return { code: r.exitCode, stdout: r.stdout.toString().trim(), stderr: r.stderr.toString() };
}

describe.skipIf(unavailable !== null)("the Redis proxy", () => {
  test("the socket is private and listed by credagent db with its protocol", async () => {
    expect(
      Bun.spawnSync(["stat", "-c", "%a", sock("cache"), dirname(sock("cache")), dirname(dirname(sock("cache")))])
        .stdout.toString()
        .trim()
        .split("\n"),
    ).toEqual(["600", "700", "700"]);
    const list = await box.run(["db", "--json"]);
    expect(list.code).toBe(0);
    const endpoints = JSON.parse(list.stdout) as Array<{ name: string; protocol: string; address: string; served: boolean }>;
    expect(endpoints.find((e) => e.name === "cache")).toMatchObject({ protocol: "redis", address: sock("cache"), served: true });
  });

  test("redis-cli: no password, logged in as the credential's user; its own AUTH is answered by the proxy and never reaches the server", () => {
    expect(cli(sock("cache"), ["ACL", "WHOAMI"])).toMatchObject({ code: 0, stdout: "app" });
    const before = commandStats();
    const r = cli(
      sock("cache"),
      [],
      "AUTH app client-password\nAUTH default other\nAUTH bob x\nHELLO 2 AUTH app y SETNAME me\nCLIENT GETNAME\nACL WHOAMI\n",
    );
    expect(r.stdout.split("\n").slice(0, 3)).toEqual([
      "OK",
      "OK",
      expect.stringContaining("WRONGPASS credagent: this socket logs in as 'app', not 'bob'"),
    ]);
    expect(r.stdout).toContain("proto\n2");
    expect(r.stdout.split("\n").slice(-2)).toEqual(["me", "app"]);
    const after = commandStats();
    // Two AUTHs: the proxy's own login for this connection, and the admin's redis-cli that read
    // these figures. HELLO reached the server, without its AUTH.
    expect((after.auth ?? 0) - (before.auth ?? 0)).toBe(2);
    expect((after.hello ?? 0) - (before.hello ?? 0)).toBe(1);
  });

  test("pipelined: the proxy's answers come in the order of the commands", async () => {
    const text = await raw(sock("cache"), "PING\r\nAUTH app x\r\nPING\r\nAUTH bob y\r\nECHO done\r\n", (t) => t.includes("done\r\n"));
    expect(text).toMatch(/^\+PONG\r\n\+OK\r\n\+PONG\r\n-WRONGPASS credagent: [^\r]*\r\n\$4\r\ndone\r\n$/);
  });

  test("RESET logs the server connection out: the proxy logs in again, the client sees only +RESET", () => {
    const r = cli(sock("cache"), [], "HELLO 3\nRESET\nACL WHOAMI\nSET k v\nGET k\n");
    expect(r.stdout.split("\n").slice(-4)).toEqual(["RESET", "app", "OK", "v"]);
  });

  test("ioredis (path), node-redis (socket.path, RESP2 and RESP3) and redis-py (Debian's 4.3, unix_socket_path) log in with no password, or with any password for the user", () => {
    const ioredis = node(
      `const Redis = require("ioredis"); const r = new Redis({ path: process.argv[1], lazyConnect: true, maxRetriesPerRequest: 0 });
       r.connect().then(() => r.call("ACL", "WHOAMI")).then((u) => r.set("io", "1").then(() => { console.log(u); return r.quit(); })).catch((e) => { console.error(e.message); process.exit(1); });`,
      sock("cache"),
    );
    expect(ioredis).toMatchObject({ code: 0, stdout: "app" });
    // A client given a password (any) and the user: its AUTH is the proxy's to answer.
    const ioredisWithPassword = node(
      `const Redis = require("ioredis"); const r = new Redis({ path: process.argv[1], username: "app", password: "whatever", lazyConnect: true, maxRetriesPerRequest: 0 });
       r.connect().then(() => r.call("ACL", "WHOAMI")).then((u) => { console.log(u); return r.quit(); }).catch((e) => { console.error(e.message); process.exit(1); });`,
      sock("cache"),
    );
    expect(ioredisWithPassword).toMatchObject({ code: 0, stdout: "app" });
    for (const RESP of [2, 3]) {
      const nodeRedis = node(
        `const { createClient } = require("redis"); const c = createClient({ socket: { path: process.argv[1], reconnectStrategy: false }, RESP: ${RESP} });
         c.on("error", (e) => { console.error(e.message); process.exit(1); });
         c.connect().then(() => c.sendCommand(["ACL", "WHOAMI"])).then((u) => c.hSet("h", { a: "1" }).then(() => c.hGetAll("h")).then((h) => { console.log(u, JSON.stringify(h)); return c.quit(); }));`,
        sock("cache"),
      );
      expect(nodeRedis).toMatchObject({ code: 0, stdout: 'app {"a":"1"}' });
    }
    const py = Bun.spawnSync(
      [
        "/usr/bin/python3",
        "-c",
        `import sys, redis
r = redis.Redis(unix_socket_path=sys.argv[1])
print(r.acl_whoami(), r.set("py", "1"), r.get("py"))
r = redis.Redis(unix_socket_path=sys.argv[1], username="app", password="anything")
print(r.acl_whoami())`,
        sock("cache"),
      ],
      { env: { PATH: "/usr/bin:/bin", HOME: box.root }, stdout: "pipe", stderr: "pipe", timeout: 20_000 },
    );
    expect(py.stderr.toString()).toBe("");
    expect(py.stdout.toString()).toBe("app True b'1'\napp\n");
  });

  test("TLS to the server: verify-full with the right CA logs in; with the wrong CA no password is sent", () => {
    expect(cli(sock("secure"), ["ACL", "WHOAMI"])).toMatchObject({ code: 0, stdout: "tlsapp" });
    const wrong = cli(sock("wrongca"), ["PING"]);
    expect(wrong.stdout).toContain("ERR credagent: TLS with the database server");
    expect(wrong.stdout).toContain("no password was sent");
  });

  test("a credential that cannot be obtained is an error reply with the agent's message, not a hang", () => {
    const started = Date.now();
    const r = cli(sock("broken"), ["PING"]);
    expect(r.stdout).toContain("ERR credagent:");
    expect(r.stdout).toContain("the identity provider is down");
    expect(Date.now() - started).toBeLessThan(15_000);
  });

  test("across three password rotations: new connections from redis-cli and ioredis every 250 ms, 0 failures; an open connection survives", async () => {
    const held = Bun.spawn(
      [
        "node",
        "-e",
        `const Redis = require("ioredis"); const r = new Redis({ path: process.argv[1] });
         let n = 0, failed = 0; const t = setInterval(() => r.incr("held").then(() => n++, () => failed++), 200);
         process.stdin.on("data", () => { clearInterval(t); console.log(JSON.stringify({ n, failed })); r.quit().then(() => process.exit(0)); });`,
        sock("cache"),
      ],
      { cwd: REPO, stdin: "pipe", stdout: "pipe", stderr: "pipe" },
    );
    const runsBefore = existsSync(countFile()) ? readFileSync(countFile(), "utf8").split("\n").length - 1 : 0;
    const failures: string[] = [];
    let connections = 0;
    const started = Date.now();
    while (Date.now() - started < 16_000) {
      const tick = Date.now();
      const r = cli(sock("cache"), ["INCR", "rotations"]);
      connections++;
      if (r.code !== 0 || !/^\d+$/.test(r.stdout)) failures.push(`${new Date().toISOString()} redis-cli ${r.code} ${r.stdout} ${r.stderr}`);
      await Bun.sleep(Math.max(0, 250 - (Date.now() - tick)));
    }
    held.stdin.write("stop\n");
    held.stdin.end();
    const heldResult = JSON.parse(await new Response(held.stdout).text()) as { n: number; failed: number };
    await held.exited;
    const runs = readFileSync(countFile(), "utf8").split("\n").length - 1;
    expect(failures).toEqual([]);
    expect(runs - Math.max(runsBefore, 1)).toBeGreaterThanOrEqual(3);
    expect(heldResult.failed).toBe(0);
    expect(heldResult.n).toBeGreaterThan(40);
    const overtaken = box.agentLog.split("\n").filter((l) => l.includes("password overtaken by a rotation")).length;
    console.log(`redis-cli: ${connections} connections, ${runs} passwords, 0 failed; logins retried after a rotation: ${overtaken}`);
  }, 40_000);

  test("a password changed at the server before the agent knows: WRONGPASS, then one login again with the credential's next value", async () => {
    expect(cli(sock("fromfile"), ["ACL", "WHOAMI"]).stdout).toBe("fileapp");
    aclUser(server, "fileapp", "second-password");
    writeFileSync(join(box.root, "filepw.json"), `{"username":"fileapp","password":"second-password"}`);
    const logBefore = box.agentLog.length;
    const connecting = Bun.spawn(["redis-cli", "-s", sock("fromfile"), "ACL", "WHOAMI"], { stdout: "pipe", stderr: "pipe" });
    await Bun.sleep(500);
    expect((await box.run(["refresh", "filepw"])).code).toBe(0);
    expect((await new Response(connecting.stdout).text()).trim()).toBe("fileapp");
    expect(box.agentLog.slice(logBefore)).toMatch(/password overtaken by a rotation.*database=fromfile/);
  });

  test.if(asRoot)(
    "another user's process is refused: at the socket's permissions, and by its peer credentials when those are loosened",
    () => {
      Bun.spawnSync(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", OTHER_USER]);
      const blocked = cli(sock("cache"), ["PING"], undefined, OTHER_USER);
      expect(blocked.stdout + blocked.stderr).toContain("Permission denied");
      const dirs = [
        box.root,
        box.runtimeDir,
        join(box.runtimeDir, "credagent"),
        join(box.runtimeDir, "credagent", "db"),
        dirname(sock("cache")),
      ];
      for (const dir of dirs) chmodSync(dir, 0o711);
      chmodSync(sock("cache"), 0o777);
      try {
        const refused = cli(sock("cache"), ["ACL", "WHOAMI"], undefined, OTHER_USER);
        expect(refused.stdout).not.toContain("app");
        const audit = readFileSync(join(box.stateDir, "credagent", "audit.log"), "utf8")
          .trim()
          .split("\n")
          .map((l) => JSON.parse(l));
        expect(audit.some((e) => e.decision === "deny" && e.database === "cache" && e.reason === "another user's process")).toBe(true);
      } finally {
        for (const dir of dirs) chmodSync(dir, 0o700);
        chmodSync(sock("cache"), 0o600);
      }
    },
  );
});
