import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { type Directory, ldapUnavailable, PEOPLE, startDirectory } from "../support/ldap.ts";
import { type PgCluster, postgresUnavailable, startPostgres } from "../support/postgres.ts";
import { watchProcesses } from "../support/proc-scan.ts";
import { Sandbox } from "./harness.ts";

// Passwords checked by the directory: PostgreSQL's ldap method (pg_hba search+bind, as servers
// joined to Active Directory are set up) against Debian's OpenLDAP (slapd), the role having no
// password of its own. A password credential whose username is the directory user logs in through
// the database socket; a wrong directory password reaches the client as SQLSTATE 28000 with the
// agent's hint, and is not sent to the server again (a directory locks an account after a few).

const unavailable = ldapUnavailable() ?? postgresUnavailable();
if (unavailable && process.env.CI === "true") throw new Error(`CI=true and ${unavailable}`);
if (unavailable) console.warn(`skipping the LDAP database tests: ${unavailable}`);

const REPO = resolve(import.meta.dir, "../..");
const BOB = `bob-${randomBytes(10).toString("hex")}`;
const CAROL = `carol-${randomBytes(10).toString("hex")}`;

let directory: Directory;
let cluster: PgCluster;
let box: Sandbox;
const dbDir = (name: string) => join(box.runtimeDir, "credagent", "db", name);
const serverLog = () => readFileSync(join(cluster.socketDir, "server.log"), "utf8");

beforeAll(async () => {
  if (unavailable) return;
  directory = await startDirectory();
  directory.addUser("bob", BOB);
  directory.addUser("carol", CAROL);
  // The server sends the password to the directory; it finds the user's DN by uid (search+bind).
  const ldap =
    `ldap ldapserver=127.0.0.1 ldapport=${directory.port} ldapbasedn="${PEOPLE}" ldapsearchattribute=uid ` +
    `ldapbinddn="${directory.searchDn}" ldapbindpasswd="${directory.searchPassword}"`;
  cluster = await startPostgres({ hba: `local all all trust\nhost all all 127.0.0.1/32 ${ldap}\n` });
  cluster.sql(
    "CREATE ROLE bob LOGIN; CREATE ROLE carol LOGIN; CREATE DATABASE app; ALTER SYSTEM SET log_connections = on; SELECT pg_reload_conf();",
  );
  box = new Sandbox();
  box.env.CREDAGENT_FILE_PASSPHRASE = "file-store-passphrase";
  const database = (name: string, credential: string) =>
    `[databases.${name}]\ncredential = "${credential}"\nprotocol = "postgresql"\nserver = "127.0.0.1:${cluster.port}"\ntls = "disable"\ndatabase = "app"\n`;
  box.writeConfig(
    [
      'keyring = "file"',
      '[credentials.bob]\nsource = "static"\nusername = "bob"\n',
      '[credentials.carol]\nsource = "static"\nusername = "carol"\n',
      database("asbob", "bob"),
      database("ascarol", "carol"),
    ].join("\n"),
  );
  await box.start();
  expect((await box.run(["secret", "set", "bob", "--stdin"], { input: `${BOB}\n` })).code).toBe(0);
  expect((await box.run(["secret", "set", "carol", "--stdin"], { input: "not-carols-directory-password\n" })).code).toBe(0);
}, 60_000);

afterAll(async () => {
  await box?.cleanup();
  cluster?.stop();
  directory?.stop();
});

/** Connects through a socket with node-postgres: the SQLSTATE and message it reports, or the row. */
function connect(name: string): { code?: string; message?: string; user?: string } {
  const code = `const { Client } = require("pg"); const c = new Client({ host: process.argv[1], database: "app" });
    c.connect().then(() => c.query("select current_user as user")).then((r) => { console.log(JSON.stringify(r.rows[0])); return c.end(); },
      (e) => console.log(JSON.stringify({ code: e.code, message: e.message })));`;
  const r = Bun.spawnSync(["node", "-e", code, dbDir(name)], { cwd: REPO, stdout: "pipe", stderr: "pipe", timeout: 20_000 });
  return JSON.parse(r.stdout.toString());
}

describe.skipIf(unavailable !== null)("PostgreSQL's ldap method through the database socket", () => {
  test("the directory user's password logs in through the socket; it is in no process's argv or environment meanwhile", async () => {
    const watch = watchProcesses(BOB);
    const answer = connect("asbob");
    const { sightings, scans } = await watch.stop();
    expect(answer).toEqual({ user: "bob" });
    expect(sightings).toEqual([]);
    expect(scans).toBeGreaterThan(0);
    // The server checked it against the directory (its log names the identity and the method).
    expect(serverLog()).toContain(`identity="uid=bob,${PEOPLE}" method=ldap`);
  });

  test("a wrong directory password: SQLSTATE 28000 with the agent's hint, and not sent to the server again", () => {
    const first = connect("ascarol");
    expect(first.code).toBe("28000");
    expect(first.message).toContain("credagent:");
    expect(first.message).toContain(`the database server refused the password of credential 'carol' for role 'carol'`);
    expect(first.message).toContain("LDAP authentication failed");
    expect(first.message).toContain("credagent secret set carol");
    const tries = () =>
      serverLog()
        .split("\n")
        .filter((l) => l.includes('LDAP authentication failed for user "carol"')).length;
    expect(tries()).toBe(1);
    const again = connect("ascarol");
    expect(again.code).toBe("28000");
    expect(again.message).toContain("has not changed since");
    expect(tries()).toBe(1);
  }, 20_000);

  test("the right password set (and the credential refreshed): the next connection logs in", async () => {
    expect((await box.run(["secret", "set", "carol", "--stdin"], { input: `${CAROL}\n` })).code).toBe(0);
    expect((await box.run(["refresh", "carol"])).code).toBe(0);
    expect(connect("ascarol")).toEqual({ user: "carol" });
    expect(serverLog()).toContain(`identity="uid=carol,${PEOPLE}" method=ldap`);
  });
});
