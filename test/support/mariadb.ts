import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { freePort } from "./ports.ts";

// A throwaway MariaDB server for end-to-end tests: Debian's mariadbd (test/run.sh installs
// `mariadb-server` and `mariadb-client` as root), a data directory made by mariadb-install-db in
// /tmp/ca-mariadb-* (under the run's own directory when test/run.sh gives one), listening on
// 127.0.0.1 at a free port and on a Unix socket of its own (where the test's root user logs in
// with no password, for its admin statements). Under root it runs with --user=root. stop() kills it
// by its pid whatever state it is in; a server a test forgot is killed when the test process exits,
// and test/run.sh kills any mariadbd on its run directory left.

const SERVER = "/usr/sbin/mariadbd";
const INSTALL = "/usr/bin/mariadb-install-db";

/** Why a server cannot be started here, or null when it can. */
export function mariadbUnavailable(): string | null {
  if (!existsSync(SERVER) || !existsSync(INSTALL))
    return "Debian's MariaDB server is not installed (apt-get install mariadb-server; test/run.sh does as root)";
  if (!Bun.which("mariadb")) return "the mariadb client is not installed (apt-get install mariadb-client)";
  return null;
}

export interface MariadbTls {
  certFile: string;
  keyFile: string;
  caFile: string;
}

export interface MariadbServer {
  readonly port: number;
  /** The server's own Unix socket (the test's admin connection). */
  readonly socket: string;
  readonly dir: string;
  /** Runs SQL as root on the server's own socket (statements on stdin: nothing in argv); the tab-separated output, trimmed. */
  sql(statement: string): string;
  /** The server's error log so far. */
  log(): string;
  stop(): void;
}

const running = new Set<MariadbServer>();
process.on("exit", () => {
  for (const server of running) server.stop();
});

export async function startMariadb(options: { tls?: MariadbTls } = {}): Promise<MariadbServer> {
  const reason = mariadbUnavailable();
  if (reason) throw new Error(reason);
  const dir = mkdtempSync(join(process.env.CREDAGENT_TEST_RUN_DIR ?? "/tmp", "ca-mariadb-"));
  const data = join(dir, "data");
  const socket = join(dir, "mysqld.sock");
  const port = await freePort();
  const asRoot = process.getuid?.() === 0;
  const user = asRoot ? ["--user=root"] : [];
  const install = Bun.spawnSync(
    [INSTALL, "--no-defaults", `--datadir=${data}`, ...user, "--auth-root-authentication-method=normal", "--skip-test-db"],
    { stdout: "pipe", stderr: "pipe", timeout: 60_000 },
  );
  if (install.exitCode !== 0) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`mariadb-install-db failed (${install.exitCode}): ${install.stderr.toString().slice(-2000)}`);
  }
  const argv = [
    SERVER,
    "--no-defaults",
    `--datadir=${data}`,
    ...user,
    `--socket=${socket}`,
    `--port=${port}`,
    "--bind-address=127.0.0.1",
    `--pid-file=${join(dir, "mariadbd.pid")}`,
    `--log-error=${join(dir, "error.log")}`,
    "--skip-name-resolve",
    "--skip-log-bin",
    "--innodb-buffer-pool-size=32M",
    "--innodb-log-file-size=16M",
    "--innodb-flush-log-at-trx-commit=0",
    "--max-connections=300",
    // Connection attributes are kept in performance_schema only.
    "--performance-schema=ON",
    "--performance-schema-session-connect-attrs-size=2048",
    ...(options.tls
      ? [`--ssl-cert=${options.tls.certFile}`, `--ssl-key=${options.tls.keyFile}`, `--ssl-ca=${options.tls.caFile}`]
      : ["--skip-ssl"]),
  ];
  const proc = Bun.spawn(argv, { stdout: "ignore", stderr: "ignore" });
  let stopped = false;
  const server: MariadbServer = {
    port,
    socket,
    dir,
    sql(statement) {
      const r = Bun.spawnSync(["mariadb", "--no-defaults", "-S", socket, "-u", "root", "-N", "-B"], {
        stdin: new Blob([statement]),
        stdout: "pipe",
        stderr: "pipe",
        timeout: 30_000,
      });
      if (r.exitCode !== 0) throw new Error(`mariadb failed (${r.exitCode}): ${r.stderr.toString()}`);
      return r.stdout.toString().trim();
    },
    log: () => (existsSync(join(dir, "error.log")) ? readFileSync(join(dir, "error.log"), "utf8") : ""),
    stop() {
      if (stopped) return;
      stopped = true;
      running.delete(server);
      try {
        process.kill(proc.pid, "SIGKILL");
      } catch {}
      // The data directory goes once the process is gone (it holds files open until then).
      for (let i = 0; i < 50 && existsSync(`/proc/${proc.pid}`) && proc.exitCode === null && !proc.killed; i++) Bun.sleepSync(20);
      rmSync(dir, { recursive: true, force: true });
    },
  };
  running.add(server);
  const until = Date.now() + 60_000;
  for (;;) {
    if (proc.exitCode !== null) {
      const log = server.log().slice(-2000);
      server.stop();
      throw new Error(`mariadbd exited (${proc.exitCode}) at start:\n${log}`);
    }
    if (existsSync(socket)) {
      try {
        server.sql("SELECT 1");
        break;
      } catch {}
    }
    if (Date.now() > until) {
      const log = server.log().slice(-2000);
      server.stop();
      throw new Error(`mariadbd did not answer within 60 s:\n${log}`);
    }
    await Bun.sleep(100);
  }
  return server;
}

/**
 * A `command` source script that gives USER a new random password on every run and prints it as
 * {"username","password","expires_in"}: a credential that really rotates (the old password stops
 * working). The password reaches the server on stdin, not in argv.
 */
export function rotatingMariadbPasswordScript(server: MariadbServer, user: string, lifetimeSeconds: number, countFile?: string): string {
  return [
    "set -eu",
    `pw=$(head -c 18 /dev/urandom | base64 | tr '+/' '-_')`,
    `printf "ALTER USER '${user}'@'%%' IDENTIFIED BY '%s';\\n" "$pw" | mariadb --no-defaults -S ${server.socket} -u root`,
    ...(countFile ? [`echo run >> ${countFile}`] : []),
    `printf '{"username":"${user}","password":"%s","expires_in":${lifetimeSeconds}}\\n' "$pw"`,
  ].join("\n");
}
