import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { TlsFiles } from "./postgres.ts";
import { freePort } from "./ports.ts";

// A throwaway Redis server for end-to-end tests: Debian's redis-server (test/run.sh installs
// `redis-server` and `redis-tools` as root), its config, socket and pid file in a directory of its
// own under the test run's directory, listening on 127.0.0.1 at a free port (TLS only, when
// asked), persisting nothing. The default user has a password the test knows (requirepass, the
// admin); ACL users are made with aclUser. Its process title names its config file, so test/run.sh
// finds a server a test failed to stop. stop() kills it by its pid.

export function redisUnavailable(): string | null {
  if (!Bun.which("redis-server") || !Bun.which("redis-cli"))
    return "Debian's redis-server and redis-cli are not installed (apt-get install redis-server redis-tools; test/run.sh does as root)";
  return null;
}

export interface RedisServer {
  /** The TCP port on 127.0.0.1 (plain, or TLS when started with tls). */
  readonly port: number;
  /** The server's own Unix socket (for the test's admin commands). */
  readonly socket: string;
  readonly dir: string;
  /** Runs redis-cli as the admin (default user) over the server's socket, commands on stdin (nothing secret in argv). */
  cli(commands: string): string;
  /** A redis-cli command line, with the admin's password in the environment it needs. */
  readonly adminEnv: Record<string, string>;
  stop(): void;
}

const running = new Set<RedisServer>();
process.on("exit", () => {
  for (const server of running) server.stop();
});

export async function startRedis(options: { tls?: TlsFiles & { caFile: string } } = {}): Promise<RedisServer> {
  const reason = redisUnavailable();
  if (reason) throw new Error(reason);
  const dir = mkdtempSync(join(process.env.CREDAGENT_TEST_RUN_DIR ?? "/tmp", "ca-redis-"));
  const port = await freePort();
  const socket = join(dir, "redis.sock");
  const adminPassword = Buffer.from(crypto.getRandomValues(new Uint8Array(18))).toString("base64url");
  const config = join(dir, "redis.conf");
  const settings = [
    "bind 127.0.0.1",
    `unixsocket ${socket}`,
    "unixsocketperm 700",
    `dir ${dir}`,
    `pidfile ${join(dir, "redis.pid")}`,
    `logfile ${join(dir, "redis.log")}`,
    'save ""',
    "appendonly no",
    "daemonize no",
    `requirepass ${adminPassword}`,
    'proc-title-template "{title} {listen-addr} {config-file}"',
  ];
  if (options.tls) {
    settings.push(
      "port 0",
      `tls-port ${port}`,
      `tls-cert-file ${options.tls.certFile}`,
      `tls-key-file ${options.tls.keyFile}`,
      `tls-ca-cert-file ${options.tls.caFile}`,
      "tls-auth-clients no",
    );
  } else settings.push(`port ${port}`);
  writeFileSync(config, settings.join("\n") + "\n", { mode: 0o600 });
  const proc = Bun.spawn(["redis-server", config], { stdout: "ignore", stderr: "pipe" });
  const adminEnv = { PATH: process.env.PATH ?? "/usr/bin:/bin", REDISCLI_AUTH: adminPassword };
  let stopped = false;
  const server: RedisServer = {
    port,
    socket,
    dir,
    adminEnv,
    cli(commands) {
      const r = Bun.spawnSync(["redis-cli", "-s", socket], {
        env: adminEnv,
        stdin: new Blob([commands]),
        stdout: "pipe",
        stderr: "pipe",
        timeout: 20_000,
      });
      if (r.exitCode !== 0) throw new Error(`redis-cli failed (${r.exitCode}): ${r.stderr.toString()}`);
      return r.stdout.toString().trim();
    },
    stop() {
      if (stopped) return;
      stopped = true;
      running.delete(server);
      try {
        process.kill(proc.pid, "SIGKILL");
      } catch {}
      Bun.spawnSync(["sh", "-c", `while kill -0 ${proc.pid} 2>/dev/null; do sleep 0.05; done`], { timeout: 5_000 });
      rmSync(dir, { recursive: true, force: true });
    },
  };
  running.add(server);
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    if (proc.exitCode !== null) break;
    if (existsSync(socket)) {
      const r = Bun.spawnSync(["redis-cli", "-s", socket, "PING"], { env: adminEnv, stdout: "pipe", stderr: "pipe" });
      if (r.stdout.toString().trim() === "PONG") return server;
    }
    await Bun.sleep(50);
  }
  const log = existsSync(join(dir, "redis.log")) ? readFileSync(join(dir, "redis.log"), "utf8").slice(-2000) : "";
  server.stop();
  throw new Error(`redis-server did not start: ${log}`);
}

/** An ACL user with a password, allowed every command and key. */
export function aclUser(server: RedisServer, user: string, password: string): void {
  const out = server.cli(`ACL SETUSER ${user} on resetpass >${password} ~* &* +@all\n`);
  if (out !== "OK") throw new Error(`ACL SETUSER ${user}: ${out}`);
}

/**
 * A `command` source script that gives the ACL user a new random password on every run (the old
 * one stops working at once) and prints it as {"username","password","expires_in"}. The
 * password reaches redis-cli on stdin, not in argv.
 */
export function rotatingRedisPasswordScript(server: RedisServer, user: string, lifetimeSeconds: number, countFile?: string): string {
  return [
    "set -eu",
    `pw=$(head -c 18 /dev/urandom | base64 | tr '+/' '-_')`,
    `out=$(printf 'ACL SETUSER ${user} on resetpass >%s ~* &* +@all\\n' "$pw" | REDISCLI_AUTH='${server.adminEnv.REDISCLI_AUTH}' redis-cli -s ${server.socket})`,
    `[ "$out" = OK ] || { echo "ACL SETUSER: $out" >&2; exit 1; }`,
    ...(countFile ? [`echo run >> ${countFile}`] : []),
    `printf '{"username":"${user}","password":"%s","expires_in":${lifetimeSeconds}}\\n' "$pw"`,
  ].join("\n");
}
