import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import pg from "pg";
import { createRealm, kdcUnavailable, REALM, type Realm } from "../support/kdc.ts";
import { createNetns, netnsUnavailable, type NetNs } from "../support/netns.ts";
import { type PgCluster, postgresUnavailable, startPostgres } from "../support/postgres.ts";
import { Sandbox, waitFor } from "./harness.ts";

// A PostgreSQL server that accepts only Kerberos (pg_hba hostgssenc … gss and host … gss, Debian's
// server with krb_server_keyfile), an MIT KDC, and the agent, all in the test's own network
// namespace. psql connects to the agent's socket with no password and no Kerberos of its own; the
// agent does the GSS-API exchange (and GSS encryption) with the ticket it keeps fresh. psql given
// KRB5CCNAME from `credagent env` logs in to the server directly with the same ticket.

const unavailable = netnsUnavailable() ?? kdcUnavailable() ?? postgresUnavailable();
if (unavailable && process.env.CI === "true") throw new Error(`CI=true and ${unavailable}`);
if (unavailable) console.warn(`skipping the Kerberos database tests: ${unavailable}`);

const PASSWORD = `alice-${randomBytes(12).toString("hex")}`;
const LIFETIME_S = 6;

let ns: NetNs;
let realm: Realm;
let cluster: PgCluster;
let box: Sandbox;
const dbDir = (name: string) => join(box.runtimeDir, "credagent", "db", name);
const WHO =
  "select current_user || ' ' || coalesce((select encrypted::text || ' ' || principal from pg_stat_gssapi where pid = pg_backend_pid()), 'no gss')";

beforeAll(async () => {
  if (unavailable) return;
  ns = createNetns("krbdb");
  realm = createRealm(ns);
  realm.addUser("alice", PASSWORD);
  const keytab = join(realm.dir, "postgres.keytab");
  realm.addService("postgres/localhost", keytab);
  await realm.startKdc();
  // Kerberos only: no password method anywhere for TCP.
  const hba =
    "local all all trust\n" +
    `hostgssenc all all 127.0.0.1/32 gss include_realm=0 krb_realm=${REALM}\n` +
    `host all all 127.0.0.1/32 gss include_realm=0 krb_realm=${REALM}\n`;
  cluster = await startPostgres({ wrap: ns.wrap, hba, kerberosKeytab: keytab });
  cluster.sql("CREATE ROLE alice LOGIN; CREATE DATABASE app OWNER alice;");
  box = new Sandbox({ wrap: ns.wrap });
  box.env.CREDAGENT_FILE_PASSPHRASE = "file-store-passphrase";
  const database = (name: string, extra: string) =>
    `[databases.${name}]\ncredential = "corp"\nprotocol = "postgresql"\nserver = "127.0.0.1:${cluster.port}"\ntls = "disable"\ndatabase = "app"\n${extra}`;
  box.writeConfig(
    [
      'keyring = "file"',
      "[credentials.corp]",
      'source = "kerberos"',
      `principal = "alice@${REALM}"`,
      `kdc = "${realm.kdc}"`,
      `ticket_lifetime = "${LIFETIME_S}s"`,
      'renew_lifetime = "15s"',
      // The server's principal is postgres/localhost; it is reached at 127.0.0.1.
      database("app", 'service_principal = "postgres/localhost"\n'),
      database("plain", 'service_principal = "postgres/localhost"\ngssenc = "disable"\n'),
      database("wrongname", 'service_principal = "postgres/elsewhere"\n'),
      database("bydefault", ""),
    ].join("\n"),
  );
  await box.start();
  expect((await box.run(["secret", "set", "corp", "--stdin"], { input: `${PASSWORD}\n` })).code).toBe(0);
  await waitFor(async () => (await box.run(["get", "corp"])).code === 0, 10_000, "the first ticket");
}, 60_000);

afterAll(async () => {
  await box?.cleanup();
  cluster?.stop();
  realm?.remove();
  ns?.remove();
});

/** psql with no password and no Kerberos: no ticket cache it could use, no krb5.conf. */
async function psql(
  hostOrConninfo: string,
  sql: string,
  options: { env?: Record<string, string>; stdin?: string; inNamespace?: boolean } = {},
) {
  const argv = [
    cluster.bin("psql"),
    "-X",
    "-A",
    "-t",
    "-v",
    "ON_ERROR_STOP=1",
    "-d",
    hostOrConninfo,
    ...(options.stdin ? ["-f", "-"] : ["-c", sql]),
  ];
  const proc = Bun.spawn(options.inNamespace ? ns.wrap(argv) : argv, {
    env: {
      PATH: process.env.PATH ?? "/usr/bin:/bin",
      HOME: box.root,
      PGUSER: "someone-else",
      KRB5CCNAME: "FILE:/nonexistent/krb5cc",
      KRB5_CONFIG: "/nonexistent/krb5.conf",
      ...options.env,
    },
    stdin: options.stdin === undefined ? "ignore" : new Blob([options.stdin]),
    stdout: "pipe",
    stderr: "pipe",
  });
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { stdout: stdout.trim(), stderr, code };
}

const socket = (name: string) => `host=${dbDir(name)} dbname=app connect_timeout=10`;

describe.skipIf(unavailable !== null)("PostgreSQL with Kerberos through the database socket", () => {
  test("psql logs in to a gss-only server with no password and no Kerberos of its own: GSS-encrypted, as the domain user", async () => {
    const r = await psql(socket("app"), WHO);
    expect(r.stderr).toBe("");
    expect(r.stdout).toBe(`alice true alice@${REALM}`);
  });

  test("without GSS encryption (gssenc = disable) the server's gss method is answered with the ticket", async () => {
    const r = await psql(socket("plain"), WHO);
    expect(r.stderr).toBe("");
    expect(r.stdout).toBe(`alice false alice@${REALM}`);
  });

  test("across ticket renewals, every connection logs in; each new TGT brings a new service ticket", async () => {
    const before = realm
      .kdcLog()
      .split("\n")
      .filter((l) => l.includes("for postgres/localhost@")).length;
    const failures: string[] = [];
    let connections = 0;
    const started = Date.now();
    while (Date.now() - started < 3.3 * LIFETIME_S * 1000) {
      const r = await psql(socket(connections % 2 === 0 ? "app" : "plain"), "select current_user");
      connections += 1;
      if (r.code !== 0 || r.stdout !== "alice") failures.push(`${Date.now() - started} ms: ${r.code} ${r.stderr}`);
      await Bun.sleep(250);
    }
    expect(failures).toEqual([]);
    const serviceTickets =
      realm
        .kdcLog()
        .split("\n")
        .filter((l) => l.includes("for postgres/localhost@")).length - before;
    console.log(`${connections} connections across 3.3 lifetimes of ${LIFETIME_S} s; ${serviceTickets} service tickets asked of the KDC`);
    expect(connections).toBeGreaterThanOrEqual(10);
    expect(serviceTickets).toBeGreaterThanOrEqual(3);
    // Not one per connection: a service ticket stays in the agent's cache until the TGT is renewed.
    expect(serviceTickets).toBeLessThan(connections);
  }, 40_000);

  test("large messages both ways under GSS encryption (cut into the server's 16 KiB packets)", async () => {
    const big = "x".repeat(300_000);
    const r = await psql(socket("app"), "", {
      stdin: `select length('${big}');\nselect md5(string_agg(g::text, ',')) from generate_series(1, 50000) g;\nselect repeat('y', 200000);\n`,
    });
    expect(r.stderr).toBe("");
    const [length, md5, repeated] = r.stdout.split("\n");
    expect(length).toBe("300000");
    const expected = new Bun.CryptoHasher("md5").update(Array.from({ length: 50000 }, (_, i) => i + 1).join(",")).digest("hex");
    expect(md5).toBe(expected);
    expect(repeated).toBe("y".repeat(200000));
  });

  test("a CancelRequest reaches the server for a GSS-encrypted session", async () => {
    const busy = new pg.Client({ host: dbDir("app"), database: "app" });
    await busy.connect();
    const slow = new pg.Query("select pg_sleep(30)");
    const outcome = new Promise<string>((resolve) => {
      slow.on("error", (err: Error) => resolve(err.message));
      slow.on("end", () => resolve("finished"));
    });
    busy.query(slow);
    await Bun.sleep(300);
    (new pg.Client({ host: dbDir("app"), database: "app" }) as unknown as { cancel(c: pg.Client, q: pg.Query): void }).cancel(busy, slow);
    expect(await outcome).toContain("canceling statement due to user request");
    await busy.end();
  }, 20_000);

  test("psql with KRB5CCNAME from credagent env logs in to the server directly with the agent's ticket", async () => {
    const env = await box.run(["env", "-s"]);
    const ccname = /KRB5CCNAME=([^;]+);/.exec(env.stdout)?.[1];
    expect(ccname).toBe(`FILE:${join(box.runtimeDir, "credagent", "krb5", "corp")}`);
    const r = await psql(`host=localhost port=${cluster.port} dbname=app user=alice gssencmode=require connect_timeout=10`, WHO, {
      env: { KRB5CCNAME: ccname!, KRB5_CONFIG: realm.krb5Conf },
      inNamespace: true,
    });
    expect(r.stderr).toBe("");
    expect(r.stdout).toBe(`alice true alice@${REALM}`);
  });

  test("a service principal the KDC does not know: the client's error says what to set", async () => {
    const r = await psql(socket("wrongname"), "select 1");
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("credagent:");
    expect(r.stderr).toContain("postgres/elsewhere");
    expect(r.stderr).toContain("set service_principal in [databases.wrongname]");
    // By default the principal is postgres/ and the host of server (here 127.0.0.1, which the KDC does not know either).
    const byDefault = await psql(socket("bydefault"), "select 1");
    expect(byDefault.stderr).toContain("postgres/127.0.0.1");
  });
});
