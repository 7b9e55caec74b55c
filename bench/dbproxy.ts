// The database proxy beside direct connections to the same PostgreSQL server (a throwaway cluster
// on 127.0.0.1, scram-sha-256; with and without TLS from a test CA):
//   pgbench -S       select-only on held connections: the proxy's cost per query (goal >= 90% of direct)
//   pgbench -S -C    a new connection per transaction: the milliseconds the proxy adds per connection
// Reference for the held connections: PgBouncer (Debian's, C, session pooling) on the same path, a
// Unix socket in front of the same server: what any relaying process costs on this machine.
// Run: scripts/build.sh && node_modules/.bin/bun bench/dbproxy.ts [seconds per run, default 10]
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Sandbox } from "../test/e2e/harness.ts";
import { startPostgres } from "../test/support/postgres.ts";
import { makeTestCerts } from "../test/support/certs.ts";

const seconds = Number(process.argv[2] ?? 10);
const PASSWORD = "bench-password-not-a-secret";
const testCerts = makeTestCerts();
const certs = testCerts.dir;

const cluster = await startPostgres({ tls: { certFile: join(certs, "server.crt"), keyFile: join(certs, "server.key") } });
const box = new Sandbox();
const bouncers: Array<{ stop(): void }> = [];
const relays: Array<{ kill(): void }> = [];
try {
  cluster.sql(`CREATE ROLE app LOGIN PASSWORD '${PASSWORD}'; CREATE DATABASE app OWNER app;`);
  const token = box.script("token.sh", `echo '{"access_token":"${PASSWORD}","expires_in":86400}'`);
  const database = (name: string, tls: string) =>
    `[databases.${name}]\ncredential = "pg"\nprotocol = "postgresql"\nserver = "127.0.0.1:${cluster.port}"\ntls = "${tls}"\n${tls === "verify-full" ? `ca_file = "${join(certs, "ca.crt")}"\n` : ""}user = "app"\ndatabase = "app"\n`;
  box.writeConfig(
    `[credentials.pg]\nsource = "command"\ncommand = ["${token}"]\n\n${database("plain", "disable")}\n${database("tls", "verify-full")}`,
  );
  const agentPid = await box.start();
  // The agent's CPU time (user + system, clock ticks of 10 ms) from /proc: how much of the
  // machine the proxy itself takes while it relays.
  const cpuTicks = () => {
    const fields = readFileSync(`/proc/${agentPid}/stat`, "utf8").split(") ")[1]!.split(" ");
    return Number(fields[11]) + Number(fields[12]);
  };
  const env = { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: box.root, PGPASSWORD: PASSWORD, PGSSLROOTCERT: join(certs, "ca.crt") };
  const pgbench = (args: string[]) => {
    const r = Bun.spawnSync([cluster.bin("pgbench"), ...args], { env, stdout: "pipe", stderr: "pipe", timeout: (seconds + 60) * 1000 });
    if (r.exitCode !== 0) throw new Error(`pgbench ${args.join(" ")} failed: ${r.stderr.toString()}`);
    return r.stdout.toString();
  };
  pgbench(["-i", "-q", "-s", "1", `host=127.0.0.1 port=${cluster.port} dbname=app user=app sslmode=disable`]);

  // PgBouncer will not run as root: it runs as the postgres user, which must read the CA.
  chmodSync(certs, 0o755);
  chmodSync(join(certs, "ca.crt"), 0o644);
  const PGBOUNCER = "/usr/sbin/pgbouncer";
  const bouncer = (sslmode: string): { dir: string; stop(): void } | null => {
    if (!existsSync(PGBOUNCER)) return null;
    const dir = mkdtempSync("/tmp/ca-bench-pgb-");
    chmodSync(dir, 0o777);
    writeFileSync(
      join(dir, "pgbouncer.ini"),
      `[databases]\napp = host=127.0.0.1 port=${cluster.port} dbname=app user=app password=${PASSWORD}\n` +
        `[pgbouncer]\nlisten_addr =\nunix_socket_dir = ${dir}\nlisten_port = 6432\nauth_type = trust\nauth_file = ${dir}/userlist.txt\npool_mode = session\n` +
        `max_client_conn = 100\ndefault_pool_size = 20\nlogfile = ${dir}/pgbouncer.log\npidfile = ${dir}/pgbouncer.pid\n` +
        `server_tls_sslmode = ${sslmode}\n${sslmode === "disable" ? "" : `server_tls_ca_file = ${join(certs, "ca.crt")}\n`}`,
    );
    // trust: PgBouncer lets in the users its auth file lists, as credagent lets in this user's processes.
    writeFileSync(join(dir, "userlist.txt"), `"app" ""\n`);
    const r = Bun.spawnSync(["runuser", "-u", "postgres", "--", PGBOUNCER, "-d", join(dir, "pgbouncer.ini")], {
      stdout: "pipe",
      stderr: "pipe",
    });
    if (r.exitCode !== 0) throw new Error(`pgbouncer did not start: ${r.stderr}`);
    for (let i = 0; i < 50 && !existsSync(join(dir, ".s.PGSQL.6432")); i++) Bun.sleepSync(100);
    let stopped = false;
    const handle = {
      dir,
      stop() {
        if (stopped) return;
        stopped = true;
        try {
          const pid = Number(readFileSync(join(dir, "pgbouncer.pid"), "utf8"));
          process.kill(pid, "SIGTERM");
          // Gone, not only its pid file: it writes its last log line after removing that.
          for (let i = 0; i < 50 && alive(pid); i++) Bun.sleepSync(100);
        } catch {
          // No pid file or no process: nothing left to stop.
        } finally {
          rmSync(dir, { recursive: true, force: true });
        }
      },
    };
    // Stopped in the finally below too: a failed run must not leave a PgBouncer behind.
    bouncers.push(handle);
    return handle;
  };

  const rows: string[][] = [];
  // The no-TLS held figures, for the relay floor's table below.
  const plainHeld: Record<1 | 4, { direct: number; proxy: number; bouncer: number | null }> = {
    1: { direct: 0, proxy: 0, bouncer: null },
    4: { direct: 0, proxy: 0, bouncer: null },
  };
  for (const [label, endpoint, sslmode] of [
    ["no TLS", "plain", "disable"],
    ["TLS verify-full", "tls", "verify-full"],
  ] as const) {
    const direct = `host=127.0.0.1 port=${cluster.port} dbname=app user=app sslmode=${sslmode}`;
    const proxied = `host=${join(box.runtimeDir, "credagent", "db", endpoint)} dbname=app`;
    const pgb = bouncer(sslmode);
    const viaBouncer = pgb ? `host=${pgb.dir} port=6432 dbname=app user=app` : null;
    const run = (conninfo: string, connect: boolean, clients = connect ? 1 : 4) => {
      const out = pgbench([
        "-n",
        "-S",
        "-T",
        String(seconds),
        ...(connect ? ["-C"] : []),
        "-c",
        String(clients),
        "-j",
        String(Math.min(clients, 2)),
        conninfo,
      ]);
      const tps = Number(/tps = ([\d.]+)/.exec(out)?.[1]);
      const failed = Number(/number of failed transactions: (\d+)/.exec(out)?.[1] ?? 0);
      const connectMs = Number(/average connection time = ([\d.]+) ms/.exec(out)?.[1] ?? NaN);
      return { tps, failed, connectMs };
    };
    const before = cpuTicks();
    const held = { direct: run(direct, false), proxy: run(proxied, false) };
    const agentCpu = (cpuTicks() - before) / 100 / seconds;
    const heldBouncer = viaBouncer ? run(viaBouncer, false) : null;
    const ofDirect = (tps: number, base: number) => `${((tps / base) * 100).toFixed(1)}%`;
    rows.push([
      `pgbench -S, 4 clients, ${label}`,
      `${held.direct.tps.toFixed(0)} tps`,
      `${held.proxy.tps.toFixed(0)} tps`,
      heldBouncer ? `${heldBouncer.tps.toFixed(0)} tps (${ofDirect(heldBouncer.tps, held.direct.tps)})` : "-",
      `${ofDirect(held.proxy.tps, held.direct.tps)} of direct TPS; agent used ${(agentCpu * 100).toFixed(0)}% of a CPU`,
    ]);
    const one = { direct: run(direct, false, 1), proxy: run(proxied, false, 1) };
    const oneBouncer = viaBouncer ? run(viaBouncer, false, 1) : null;
    pgb?.stop();
    if (sslmode === "disable") {
      plainHeld[4] = { direct: held.direct.tps, proxy: held.proxy.tps, bouncer: heldBouncer?.tps ?? null };
      plainHeld[1] = { direct: one.direct.tps, proxy: one.proxy.tps, bouncer: oneBouncer?.tps ?? null };
    }
    rows.push([
      `pgbench -S, 1 client, ${label}`,
      `${one.direct.tps.toFixed(0)} tps`,
      `${one.proxy.tps.toFixed(0)} tps`,
      oneBouncer ? `${oneBouncer.tps.toFixed(0)} tps (${ofDirect(oneBouncer.tps, one.direct.tps)})` : "-",
      `${ofDirect(one.proxy.tps, one.direct.tps)} of direct TPS; +${(1e6 / one.proxy.tps - 1e6 / one.direct.tps).toFixed(0)} µs per query`,
    ]);
    const fresh = { direct: run(direct, true), proxy: run(proxied, true) };
    const added = fresh.proxy.connectMs - fresh.direct.connectMs;
    rows.push([
      `pgbench -S -C, 1 client, ${label}`,
      `${fresh.direct.tps.toFixed(0)} tps, ${fresh.direct.connectMs.toFixed(2)} ms/conn`,
      `${fresh.proxy.tps.toFixed(0)} tps, ${fresh.proxy.connectMs.toFixed(2)} ms/conn`,
      "- (pools server connections)",
      `${added >= 0 ? "+" : ""}${added.toFixed(2)} ms per connection; failed: ${fresh.proxy.failed}`,
    ]);
  }
  const header = ["benchmark", "direct", "through credagent", "through PgBouncer 1.18 (reference)", "result"];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  for (const r of [header, widths.map((w) => "-".repeat(w)), ...rows])
    console.log(`| ${r.map((c, i) => c.padEnd(widths[i]!)).join(" | ")} |`);
  console.log(`\n${seconds} s per run; server and clients on one machine (${navigator.hardwareConcurrency} CPUs).`);

  // The floor of a relay in this runtime (bench/bare-relay.ts: bytes only, no login, admission or
  // parsing), with the server side on Bun.connect and on node:net, beside the figures above.
  const floor: string[][] = [];
  const bare: Record<string, Record<1 | 4, number>> = {};
  for (const kind of ["bun", "node"] as const) {
    const dir = join(box.root, `bare-${kind}`);
    mkdirSync(dir, { mode: 0o700 });
    const relay = Bun.spawn(
      [process.execPath, join(import.meta.dir, "bare-relay.ts"), join(dir, ".s.PGSQL.5432"), "127.0.0.1", String(cluster.port), kind],
      {
        stdout: "pipe",
        stderr: "inherit",
      },
    );
    relays.push(relay);
    await relay.stdout.getReader().read();
    const conninfo = `host=${dir} dbname=app user=app`;
    const tps = (clients: number) =>
      Number(
        /tps = ([\d.]+)/.exec(
          pgbench(["-n", "-S", "-T", String(seconds), "-c", String(clients), "-j", String(Math.min(clients, 2)), conninfo]),
        )?.[1],
      );
    bare[kind] = { 4: tps(4), 1: tps(1) };
    relay.kill();
  }
  for (const clients of [4, 1] as const) {
    const f = plainHeld[clients];
    const pct = (tps: number) => `${tps.toFixed(0)} tps (${((tps / f.direct) * 100).toFixed(1)}%)`;
    floor.push([
      `pgbench -S, ${clients} client${clients > 1 ? "s" : ""}, no TLS`,
      `${f.direct.toFixed(0)} tps`,
      pct(f.proxy),
      pct(bare.bun![clients]),
      pct(bare.node![clients]),
      f.bouncer === null ? "-" : pct(f.bouncer),
    ]);
  }
  const floorHeader = ["relay floor", "direct", "credagent", "bare relay, Bun.connect", "bare relay, node:net", "PgBouncer"];
  const floorWidths = floorHeader.map((h, i) => Math.max(h.length, ...floor.map((r) => r[i]!.length)));
  console.log("");
  for (const r of [floorHeader, floorWidths.map((w) => "-".repeat(w)), ...floor])
    console.log(`| ${r.map((c, i) => c.padEnd(floorWidths[i]!)).join(" | ")} |`);
  console.log(
    "\nA bare relay (bench/bare-relay.ts) is bytes only: a Unix socket to the server's TCP port, with no login, admission or parsing; the same run, the same server.",
  );
} finally {
  for (const bouncer of bouncers) bouncer.stop();
  for (const relay of relays) relay.kill();
  await box.cleanup();
  cluster.stop();
  testCerts.remove();
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
