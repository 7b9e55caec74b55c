// The MySQL endpoint beside direct connections to the same MariaDB server (a throwaway server on
// 127.0.0.1, mysql_native_password; with and without TLS from a test CA), with Debian's mysqlslap:
//   held connections   each client runs its share of the queries on one connection: the relay's cost per query
//   new connections    one connection per query, one client: the milliseconds the proxy adds per connection
// Run: scripts/build.sh && node_modules/.bin/bun bench/mysql.ts [queries per held run, default 20000]
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Sandbox } from "../test/e2e/harness.ts";
import { startMariadb } from "../test/support/mariadb.ts";
import { makeTestCerts } from "../test/support/certs.ts";

const queries = Number(process.argv[2] ?? 20000);
const PASSWORD = "bench-password-not-a-secret";
const testCerts = makeTestCerts();
const certs = testCerts.dir;

const server = await startMariadb({
  tls: { certFile: join(certs, "server.crt"), keyFile: join(certs, "server.key"), caFile: join(certs, "ca.crt") },
});
const box = new Sandbox();
try {
  server.sql(
    `CREATE DATABASE app; CREATE USER 'app'@'%' IDENTIFIED VIA mysql_native_password USING PASSWORD('${PASSWORD}'); GRANT ALL ON app.* TO 'app'@'%';`,
  );
  const token = box.script("token.sh", `echo '{"username":"app","password":"${PASSWORD}","expires_in":86400}'`);
  const database = (name: string, tls: string) =>
    `[databases.${name}]\ncredential = "my"\nprotocol = "mysql"\nserver = "127.0.0.1:${server.port}"\ntls = "${tls}"\n${tls === "verify-full" ? `ca_file = "${join(certs, "ca.crt")}"\n` : ""}`;
  box.writeConfig(
    `[credentials.my]\nsource = "command"\ncommand = ["${token}"]\n\n${database("plain", "disable")}\n${database("tls", "verify-full")}`,
  );
  const agentPid = await box.start();
  const cpuTicks = () => {
    const fields = readFileSync(`/proc/${agentPid}/stat`, "utf8").split(") ")[1]!.split(" ");
    return Number(fields[11]) + Number(fields[12]);
  };
  // The direct runs' password in MYSQL_PWD, as mysqlslap reads it; the proxy's runs have none.
  const env = { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: box.root };
  /** Seconds for all queries of one iteration (mysqlslap's average), its clients connecting inside the timing. */
  const slap = (target: string[], o: { clients: number; queries: number; iterations: number; password?: boolean }) => {
    const r = Bun.spawnSync(
      [
        "mysqlslap",
        "--no-defaults",
        ...target,
        "--create-schema=app",
        "--no-drop",
        "--query=SELECT 1",
        `--concurrency=${o.clients}`,
        `--number-of-queries=${o.queries}`,
        `--iterations=${o.iterations}`,
      ],
      { env: o.password ? { ...env, MYSQL_PWD: PASSWORD } : env, stdout: "pipe", stderr: "pipe", timeout: 600_000 },
    );
    if (r.exitCode !== 0) throw new Error(`mysqlslap ${target.join(" ")} failed: ${r.stderr.toString()}`);
    return Number(/Average number of seconds to run all queries: ([\d.]+)/.exec(r.stdout.toString())?.[1]);
  };
  const rows: string[][] = [];
  for (const [label, endpoint, tlsArgs] of [
    ["no TLS", "plain", ["--skip-ssl"]],
    ["TLS verify-full", "tls", ["--ssl", `--ssl-ca=${join(certs, "ca.crt")}`, "--ssl-verify-server-cert"]],
  ] as const) {
    const direct = ["-h", "127.0.0.1", "-P", String(server.port), "-u", "app", ...tlsArgs];
    const proxied = ["-S", join(box.runtimeDir, "credagent", "db", endpoint, "mysql.sock"), "-u", "whoever"];
    for (const clients of [4, 1]) {
      const before = cpuTicks();
      const started = performance.now();
      const proxy = queries / slap(proxied, { clients, queries, iterations: 1 });
      const agentCpu = (cpuTicks() - before) / 100 / ((performance.now() - started) / 1000);
      const straight = queries / slap(direct, { clients, queries, iterations: 1, password: true });
      rows.push([
        `mysqlslap SELECT 1, ${clients} client${clients > 1 ? "s" : ""} on held connections, ${label}`,
        `${straight.toFixed(0)} q/s`,
        `${proxy.toFixed(0)} q/s`,
        `${((proxy / straight) * 100).toFixed(1)}% of direct; +${(1e6 / proxy - 1e6 / straight).toFixed(0)} µs per query${clients > 1 ? `; agent used ${(agentCpu * 100).toFixed(0)}% of a CPU` : ""}`,
      ]);
    }
    // One connection per query: 300 iterations of one client running one query.
    const fresh = {
      direct: slap(direct, { clients: 1, queries: 1, iterations: 300, password: true }),
      proxy: slap(proxied, { clients: 1, queries: 1, iterations: 300 }),
    };
    rows.push([
      `mysqlslap, a new connection per query, 1 client, ${label}`,
      `${(fresh.direct * 1000).toFixed(2)} ms/conn`,
      `${(fresh.proxy * 1000).toFixed(2)} ms/conn`,
      `${fresh.proxy >= fresh.direct ? "+" : ""}${((fresh.proxy - fresh.direct) * 1000).toFixed(2)} ms per connection`,
    ]);
  }
  const header = ["benchmark", "direct (TCP)", "through credagent's socket", "result"];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  for (const r of [header, widths.map((w) => "-".repeat(w)), ...rows])
    console.log(`| ${r.map((c, i) => c.padEnd(widths[i]!)).join(" | ")} |`);
  const version = server.sql("SELECT VERSION()");
  console.log(
    `\nMariaDB ${version}; ${queries} queries per held-connection run; server, clients and agent on one machine (${navigator.hardwareConcurrency} CPUs).`,
  );
} finally {
  await box.cleanup();
  server.stop();
  testCerts.remove();
}
