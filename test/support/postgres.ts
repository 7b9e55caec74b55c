import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { freePort } from "./ports.ts";

// A throwaway PostgreSQL cluster for end-to-end tests: Debian's server (test/run.sh installs the
// `postgresql` package as root), its data directory and Unix socket in /tmp/ca-pg-*, listening on
// 127.0.0.1 at a free port with scram-sha-256 for TCP logins and trust on its own socket (for the
// test's superuser statements). The postmaster refuses to run as root, so under root it runs as the
// `postgres` user the package creates. stop() ends it whatever state it is in; a cluster a test forgot
// is stopped when the test process exits, and test/run.sh kills any postmaster on /tmp/ca-pg-* left.

/** Where Debian puts the server's programs (/usr/lib/postgresql/VERSION/bin), or null. */
export function postgresBinDir(): string | null {
  const root = "/usr/lib/postgresql";
  if (!existsSync(root)) return null;
  const versions = readdirSync(root)
    .filter((v) => existsSync(join(root, v, "bin", "initdb")))
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] ? join(root, versions[0], "bin") : null;
}

/** Why a cluster cannot be started here, or null when it can. */
export function postgresUnavailable(): string | null {
  if (!postgresBinDir()) return "Debian's PostgreSQL server is not installed (apt-get install postgresql; test/run.sh does as root)";
  if (process.getuid?.() === 0 && Bun.spawnSync(["id", "-u", "postgres"]).exitCode !== 0)
    return "running as root and there is no 'postgres' user to run the server as";
  return null;
}

export interface TlsFiles {
  certFile: string;
  keyFile: string;
}

export interface PgCluster {
  /** The TCP port on 127.0.0.1. */
  readonly port: number;
  /** The directory holding the server's Unix socket (.s.PGSQL.<port>). */
  readonly socketDir: string;
  /** A program of the server's bin directory (psql, pgbench, ...). */
  bin(name: string): string;
  /** Runs SQL as the superuser over the server's own socket (statement on stdin: nothing in argv); returns the unaligned output. */
  sql(statement: string): string;
  stop(): void;
}

const running = new Set<PgCluster>();
process.on("exit", () => {
  for (const cluster of running) cluster.stop();
});

export interface PgOptions {
  tls?: TlsFiles;
  hba?: string;
  /** The server's listen_addresses (default 127.0.0.1; more loopback addresses reach it by another name). */
  listen?: string;
  /** Runs the server inside a network namespace of the test's (NetNs.wrap): its TCP port is there only. */
  wrap?: (argv: string[]) => string[];
  /** A keytab (copied into the data directory, owned by the server's user) for pg_hba's gss and hostgssenc. */
  kerberosKeytab?: string;
}

export async function startPostgres(options: PgOptions = {}): Promise<PgCluster> {
  const reason = postgresUnavailable();
  if (reason) throw new Error(reason);
  const binDir = postgresBinDir()!;
  const asRoot = process.getuid?.() === 0;
  const owner = asRoot
    ? {
        uid: Number(Bun.spawnSync(["id", "-u", "postgres"]).stdout.toString()),
        gid: Number(Bun.spawnSync(["id", "-g", "postgres"]).stdout.toString()),
      }
    : null;
  // `runuser` drops root for the server's own programs; psql needs no such thing.
  const asOwner = (argv: string[]) => (owner ? ["runuser", "-u", "postgres", "--", ...argv] : argv);
  // Under the test run's own directory when test/run.sh gives one, so that its check for leftovers
  // finds this run's servers and no one else's.
  const dir = mkdtempSync(join(process.env.CREDAGENT_TEST_RUN_DIR ?? "/tmp", "ca-pg-"));
  const data = join(dir, "data");
  if (owner) chownSync(dir, owner.uid, owner.gid);
  chmodSync(dir, 0o700);
  const port = await freePort();
  const run = (argv: string[], what: string) => {
    const r = Bun.spawnSync(asOwner(argv), { stdout: "pipe", stderr: "pipe", timeout: 60_000 });
    if (r.exitCode !== 0) throw new Error(`${what} failed (${r.exitCode}): ${r.stderr.toString().slice(-2000)}`);
  };
  run(
    [
      join(binDir, "initdb"),
      "-D",
      data,
      "-U",
      "postgres",
      "--auth-local=trust",
      "--auth-host=scram-sha-256",
      "-E",
      "UTF8",
      "--no-sync",
      "--no-instructions",
    ],
    "initdb",
  );
  const settings = [
    `port = ${port}`,
    `listen_addresses = '${options.listen ?? "127.0.0.1"}'`,
    `unix_socket_directories = '${dir}'`,
    "fsync = off",
    "synchronous_commit = off",
    "full_page_writes = off",
    "max_connections = 200",
  ];
  if (options.tls) {
    for (const [name, file] of [
      ["server.crt", options.tls.certFile],
      ["server.key", options.tls.keyFile],
    ] as const) {
      const target = join(data, name);
      writeFileSync(target, readFileSync(file), { mode: 0o600 });
      if (owner) chownSync(target, owner.uid, owner.gid);
    }
    settings.push("ssl = on", "ssl_cert_file = 'server.crt'", "ssl_key_file = 'server.key'");
  }
  if (options.kerberosKeytab) {
    const target = join(data, "krb5.keytab");
    writeFileSync(target, readFileSync(options.kerberosKeytab), { mode: 0o600 });
    if (owner) chownSync(target, owner.uid, owner.gid);
    settings.push(`krb_server_keyfile = '${target}'`);
  }
  writeFileSync(join(data, "postgresql.auto.conf"), settings.join("\n") + "\n");
  if (options.hba) writeFileSync(join(data, "pg_hba.conf"), options.hba);
  if (owner) {
    chownSync(join(data, "postgresql.auto.conf"), owner.uid, owner.gid);
    if (options.hba) chownSync(join(data, "pg_hba.conf"), owner.uid, owner.gid);
  }

  let stopped = false;
  const cluster: PgCluster = {
    port,
    socketDir: dir,
    bin: (name) => join(binDir, name),
    sql(statement) {
      const r = Bun.spawnSync(
        [
          join(binDir, "psql"),
          "-X",
          "-q",
          "-A",
          "-t",
          "-v",
          "ON_ERROR_STOP=1",
          "-h",
          dir,
          "-p",
          String(port),
          "-U",
          "postgres",
          "-d",
          "postgres",
          "-f",
          "-",
        ],
        {
          stdin: new Blob([statement]),
          stdout: "pipe",
          stderr: "pipe",
          timeout: 30_000,
        },
      );
      if (r.exitCode !== 0) throw new Error(`psql failed (${r.exitCode}): ${r.stderr.toString()}`);
      return r.stdout.toString().trim();
    },
    stop() {
      if (stopped) return;
      stopped = true;
      running.delete(cluster);
      Bun.spawnSync(asOwner([join(binDir, "pg_ctl"), "-D", data, "-m", "immediate", "-w", "-t", "20", "stop"]), {
        stdout: "ignore",
        stderr: "ignore",
      });
      // pg_ctl can fail (a half-started server): the postmaster's pid file says whom to kill.
      const pidFile = join(data, "postmaster.pid");
      if (existsSync(pidFile)) {
        const pid = Number(readFileSync(pidFile, "utf8").split("\n")[0]);
        if (pid > 0) {
          try {
            process.kill(pid, "SIGKILL");
          } catch {}
        }
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
  running.add(cluster);
  try {
    const start = [join(binDir, "pg_ctl"), "-D", data, "-l", join(dir, "server.log"), "-w", "-t", "60", "start"];
    if (options.wrap) {
      // The namespace first, then the server's user: ip netns exec needs root.
      const r = Bun.spawnSync(options.wrap(asOwner(start)), { stdout: "pipe", stderr: "pipe", timeout: 60_000 });
      if (r.exitCode !== 0) throw new Error(`pg_ctl start failed (${r.exitCode}): ${r.stderr.toString().slice(-2000)}`);
    } else run(start, "pg_ctl start");
  } catch (err) {
    const log = existsSync(join(dir, "server.log")) ? readFileSync(join(dir, "server.log"), "utf8").slice(-2000) : "";
    cluster.stop();
    throw new Error(`${(err as Error).message}\n${log}`);
  }
  return cluster;
}

/**
 * A `command` source script that gives ROLE a new random password on every run and prints it as
 * {"username","password","expires_in"}: a credential that really rotates (the old password stops working).
 * The password reaches psql on stdin, not in argv.
 */
export function rotatingPasswordScript(cluster: PgCluster, role: string, lifetimeSeconds: number, countFile?: string): string {
  const psql = cluster.bin("psql");
  return [
    "set -eu",
    `pw=$(head -c 18 /dev/urandom | base64 | tr '+/' '-_')`,
    `printf "ALTER ROLE ${role} PASSWORD '%s';\\n" "$pw" | ${psql} -X -q -v ON_ERROR_STOP=1 -h ${cluster.socketDir} -p ${cluster.port} -U postgres -d postgres -f - >/dev/null`,
    ...(countFile ? [`echo run >> ${countFile}`] : []),
    `printf '{"username":"${role}","password":"%s","expires_in":${lifetimeSeconds}}\\n' "$pw"`,
  ].join("\n");
}
