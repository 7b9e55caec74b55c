import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { freePort } from "./ports.ts";

// A throwaway directory for end-to-end tests: Debian's OpenLDAP server (slapd, with the mdb backend)
// on 127.0.0.1 at a free port, its config and database in a directory of its own, entries loaded
// with ldapadd (ldap-utils) over the wire. The admin's password reaches ldapadd in a 0600 file
// (-y), users' passwords in the LDIF on its standard input: never in argv.

export const BASE_DN = "dc=corp,dc=example";
export const PEOPLE = `ou=people,${BASE_DN}`;

/** Why a directory cannot be started here, or null when it can. */
export function ldapUnavailable(): string | null {
  if (!Bun.which("slapd", { PATH: `${process.env.PATH ?? ""}:/usr/sbin` })) return "slapd is missing (apt-get install slapd)";
  if (!Bun.which("ldapadd")) return "ldapadd is missing (apt-get install ldap-utils)";
  return null;
}

export interface Directory {
  readonly port: number;
  readonly url: string;
  /** The DN and password a server binds as to search for users (PostgreSQL's ldapbinddn). */
  readonly searchDn: string;
  readonly searchPassword: string;
  /** A person under ou=people, found by uid, with a password. */
  addUser(uid: string, password: string): void;
  stop(): void;
}

const running = new Set<Directory>();
process.on("exit", () => {
  for (const d of running) d.stop();
});

export async function startDirectory(): Promise<Directory> {
  const reason = ldapUnavailable();
  if (reason) throw new Error(reason);
  // Under the test run's directory (test/run.sh): its check for leftovers knows this run's slapd.
  const dir = mkdtempSync(join(process.env.CREDAGENT_TEST_RUN_DIR ?? "/tmp", "ca-ldap-"));
  mkdirSync(join(dir, "db"));
  const adminDn = `cn=admin,${BASE_DN}`;
  const adminPassword = `admin-${Math.random().toString(36).slice(2)}`;
  const conf = join(dir, "slapd.conf");
  writeFileSync(
    conf,
    [
      "include /etc/ldap/schema/core.schema",
      "include /etc/ldap/schema/cosine.schema",
      "include /etc/ldap/schema/inetorgperson.schema",
      `pidfile ${join(dir, "slapd.pid")}`,
      "modulepath /usr/lib/ldap",
      "moduleload back_mdb",
      "database mdb",
      `suffix "${BASE_DN}"`,
      `rootdn "${adminDn}"`,
      `rootpw ${adminPassword}`,
      `directory ${join(dir, "db")}`,
      "",
    ].join("\n"),
    { mode: 0o600 },
  );
  const passwordFile = join(dir, "admin.pw");
  writeFileSync(passwordFile, adminPassword, { mode: 0o600 });
  const port = await freePort();
  const url = `ldap://127.0.0.1:${port}/`;
  const slapd = Bun.which("slapd", { PATH: `${process.env.PATH ?? ""}:/usr/sbin` })!;
  // -d 0: in the foreground (its pid is ours to kill), logging nothing.
  const server = Bun.spawn([slapd, "-d", "0", "-f", conf, "-h", url], { stdout: "ignore", stderr: "pipe" });
  let stopped = false;
  const ldapadd = (ldif: string) => {
    const r = Bun.spawnSync(["ldapadd", "-x", "-H", url, "-D", adminDn, "-y", passwordFile], {
      stdin: Buffer.from(ldif),
      stdout: "pipe",
      stderr: "pipe",
      timeout: 10_000,
    });
    if (r.exitCode !== 0) throw new Error(`ldapadd failed (${r.exitCode}): ${r.stderr.toString()}`);
  };
  const directory: Directory = {
    port,
    url,
    searchDn: adminDn,
    searchPassword: adminPassword,
    addUser(uid, password) {
      ldapadd(`dn: uid=${uid},${PEOPLE}\nobjectClass: inetOrgPerson\nuid: ${uid}\ncn: ${uid}\nsn: ${uid}\nuserPassword: ${password}\n`);
    },
    stop() {
      if (stopped) return;
      stopped = true;
      running.delete(directory);
      server.kill("SIGKILL");
      rmSync(dir, { recursive: true, force: true });
    },
  };
  running.add(directory);
  const deadline = Date.now() + 10_000;
  for (;;) {
    const r = Bun.spawnSync(["ldapsearch", "-x", "-H", url, "-b", "", "-s", "base", "-LLL", "namingContexts"], {
      stdout: "pipe",
      stderr: "pipe",
    });
    if (r.exitCode === 0) break;
    if (server.exitCode !== null || Date.now() > deadline) {
      const err = await new Response(server.stderr as ReadableStream).text().catch(() => "");
      directory.stop();
      throw new Error(`slapd did not start: ${err}`);
    }
    await Bun.sleep(50);
  }
  ldapadd(
    `dn: ${BASE_DN}\nobjectClass: dcObject\nobjectClass: organization\no: Corp\ndc: corp\n\n` +
      `dn: ${PEOPLE}\nobjectClass: organizationalUnit\nou: people\n`,
  );
  return directory;
}
