import { chownSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { NetNs } from "./netns.ts";

// A throwaway MIT Kerberos realm for end-to-end tests: Debian's KDC (krb5-kdc; kdb5_util and
// kadmin.local from krb5-admin-server), its database, stash and logs in a directory of its own, the
// KDC (`krb5kdc -n`) listening on port 88 inside the test's network namespace. Nothing reads the
// machine's /etc/krb5.conf: the KDC's programs get KRB5_CONFIG and KRB5_KDC_PROFILE, and clients
// the krb5.conf this writes. Passwords reach kadmin.local on its standard input, never in argv.

export const REALM = "CORP.EXAMPLE";

/** Why a realm cannot be made here, or null when it can. */
export function kdcUnavailable(): string | null {
  for (const [program, pkg] of [
    ["krb5kdc", "krb5-kdc"],
    ["kdb5_util", "krb5-kdc"],
    ["kadmin.local", "krb5-admin-server"],
    ["klist", "krb5-user"],
  ] as const) {
    if (!Bun.which(program, { PATH: `${process.env.PATH ?? ""}:/usr/sbin:/sbin` })) return `${program} is missing (apt-get install ${pkg})`;
  }
  return null;
}

export interface Realm {
  readonly name: string;
  readonly dir: string;
  /** A krb5.conf for clients in the namespace (psql, kinit, klist): this realm, its KDC, no DNS. */
  readonly krb5Conf: string;
  /** host:port of the KDC, inside the namespace. */
  readonly kdc: string;
  /** A user principal with a password (given on kadmin.local's stdin). */
  addUser(name: string, password: string): void;
  /** A principal with a random key, written to a keytab (owned by `owner` when given: a server reads it). */
  addService(principal: string, keytab: string, owner?: { uid: number; gid: number }): void;
  startKdc(): Promise<void>;
  stopKdc(): void;
  /** The KDC's log: one line per AS_REQ (a new ticket) and TGS_REQ (a renewal, a service ticket). */
  kdcLog(): string;
  remove(): void;
}

const live = new Set<Realm>();
process.on("exit", () => {
  for (const realm of live) realm.remove();
});

const SBIN = (name: string) => Bun.which(name, { PATH: `${process.env.PATH ?? ""}:/usr/sbin:/sbin` }) ?? name;

/** A realm whose tickets last at most `maxLife` (kadmin's syntax, e.g. "1h") and renew for `maxRenew`. */
export function createRealm(ns: NetNs, limits: { maxLife?: string; maxRenew?: string } = {}): Realm {
  const reason = kdcUnavailable();
  if (reason) throw new Error(reason);
  // Under the test run's directory (test/run.sh): its check for leftovers knows this run's KDCs.
  const dir = mkdtempSync(join(process.env.CREDAGENT_TEST_RUN_DIR ?? "/tmp", "ca-krb-"));
  const krb5Conf = join(dir, "krb5.conf");
  const kdcConf = join(dir, "kdc.conf");
  const logFile = join(dir, "kdc.log");
  const pidFile = join(dir, "kdc.pid");
  const kdc = "127.0.0.1:88";
  writeFileSync(
    krb5Conf,
    [
      "[libdefaults]",
      `  default_realm = ${REALM}`,
      "  dns_lookup_kdc = false",
      "  dns_lookup_realm = false",
      "  rdns = false",
      "  dns_canonicalize_hostname = false",
      "[realms]",
      `  ${REALM} = {`,
      `    kdc = ${kdc}`,
      "  }",
      "[domain_realm]",
      `  localhost = ${REALM}`,
      "",
    ].join("\n"),
  );
  writeFileSync(
    kdcConf,
    [
      "[kdcdefaults]",
      "  kdc_listen = 88",
      "  kdc_tcp_listen = 88",
      "[realms]",
      `  ${REALM} = {`,
      `    database_name = ${join(dir, "principal")}`,
      `    key_stash_file = ${join(dir, "stash")}`,
      `    acl_file = ${join(dir, "kadm5.acl")}`,
      `    max_life = ${limits.maxLife ?? "1h"}`,
      `    max_renewable_life = ${limits.maxRenew ?? "1d"}`,
      "    supported_enctypes = aes256-cts-hmac-sha1-96:normal aes128-cts-hmac-sha1-96:normal",
      // As Active Directory does: a wrong password is refused by the KDC (PREAUTH_FAILED).
      "    default_principal_flags = +preauth",
      "  }",
      "[logging]",
      `  kdc = FILE:${logFile}`,
      "",
    ].join("\n"),
  );
  const env = { PATH: process.env.PATH ?? "/usr/bin:/bin", KRB5_CONFIG: krb5Conf, KRB5_KDC_PROFILE: kdcConf };
  const run = (argv: string[], input?: string) => {
    const r = Bun.spawnSync(argv, {
      env,
      stdin: input === undefined ? "ignore" : Buffer.from(input),
      stdout: "pipe",
      stderr: "pipe",
      timeout: 30_000,
    });
    if (r.exitCode !== 0) throw new Error(`${argv.slice(0, 3).join(" ")} failed (${r.exitCode}): ${r.stderr.toString()}`);
    return r.stdout.toString();
  };
  const kadmin = (query: string, input?: string) => run([SBIN("kadmin.local"), "-q", query], input);
  // The master key is the test's throwaway: it protects nothing.
  run([SBIN("kdb5_util"), "create", "-s", "-r", REALM], "master-key-of-a-test-realm\nmaster-key-of-a-test-realm\n");
  if (limits.maxLife || limits.maxRenew) {
    kadmin(`modprinc -maxlife "${limits.maxLife ?? "1h"}" -maxrenewlife "${limits.maxRenew ?? "1d"}" krbtgt/${REALM}`);
  }

  let server: ReturnType<typeof Bun.spawn> | undefined;
  let removed = false;
  const realm: Realm = {
    name: REALM,
    dir,
    krb5Conf,
    kdc,
    addUser(name, password) {
      const limitsArgs = `${limits.maxLife ? `-maxlife "${limits.maxLife}" ` : ""}${limits.maxRenew ? `-maxrenewlife "${limits.maxRenew}" ` : ""}`;
      kadmin(`addprinc ${limitsArgs}${name}`, `${password}\n${password}\n`);
    },
    addService(principal, keytab, owner) {
      kadmin(`addprinc -randkey ${principal}`);
      kadmin(`ktadd -k ${keytab} ${principal}`);
      if (owner) chownSync(keytab, owner.uid, owner.gid);
    },
    async startKdc() {
      if (server) return;
      const before = existsSync(logFile) ? readFileSync(logFile, "utf8").length : 0;
      server = Bun.spawn(ns.wrap([SBIN("krb5kdc"), "-n", "-P", pidFile]), { env, stdout: "ignore", stderr: "pipe" });
      const deadline = Date.now() + 10_000;
      while (Date.now() < deadline) {
        if (existsSync(logFile) && readFileSync(logFile, "utf8").slice(before).includes("commencing operation")) return;
        if (server.exitCode !== null) break;
        await Bun.sleep(25);
      }
      const failed = server;
      realm.stopKdc();
      const err = await new Response(failed.stderr as ReadableStream).text().catch(() => "");
      throw new Error(`the KDC did not start: ${err}\n${realm.kdcLog().slice(-1000)}`);
    },
    stopKdc() {
      // ip netns exec execs krb5kdc: the pid is the KDC's. Its sockets close as it dies.
      server?.kill("SIGKILL");
      server = undefined;
    },
    kdcLog: () => (existsSync(logFile) ? readFileSync(logFile, "utf8") : ""),
    remove() {
      if (removed) return;
      removed = true;
      live.delete(realm);
      realm.stopKdc();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  live.add(realm);
  return realm;
}
