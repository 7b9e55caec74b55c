// redis-benchmark through the agent's Redis socket beside the server's own Unix socket (the
// direct path: the same server, the same kind of socket, no relay), Debian's redis-server with an
// ACL user: SET and GET with 1 client, 50 clients, and 50 clients pipelining 16 commands (the
// proxy reads the framing of every command and reply, so pipelining is where that costs most).
// Run: scripts/build.sh && node_modules/.bin/bun bench/redis.ts [requests per run, default 100000]
import { join } from "node:path";
import { Sandbox } from "../test/e2e/harness.ts";
import { aclUser, startRedis } from "../test/support/redis.ts";

const requests = Number(process.argv[2] ?? 100_000);
const PASSWORD = "bench-password-not-a-secret";
const server = await startRedis();
const box = new Sandbox();
try {
  aclUser(server, "app", PASSWORD);
  const login = box.script("login.sh", `echo '{"username":"app","password":"${PASSWORD}"}'`);
  box.writeConfig(
    `[credentials.rd]\nsource = "command"\ncommand = ["${login}"]\n\n[databases.cache]\ncredential = "rd"\nprotocol = "redis"\nserver = "127.0.0.1:${server.port}"\ntls = "disable"\n`,
  );
  await box.start();
  const proxied = join(box.runtimeDir, "credagent", "db", "cache", "redis.sock");
  const bench = (socket: string, clients: number, pipeline: number, auth: boolean) => {
    const r = Bun.spawnSync(
      [
        "redis-benchmark",
        "-s",
        socket,
        ...(auth ? ["--user", "app", "-a", PASSWORD] : []),
        "-t",
        "set,get",
        "-n",
        String(requests),
        "-c",
        String(clients),
        "-P",
        String(pipeline),
        "-q",
        "--csv",
      ],
      { stdout: "pipe", stderr: "pipe", timeout: 600_000 },
    );
    if (r.exitCode !== 0) throw new Error(`redis-benchmark failed: ${r.stderr.toString()}`);
    const rps: Record<string, number> = {};
    for (const line of r.stdout.toString().split("\n")) {
      const m = /^"(SET|GET)","([\d.]+)"/.exec(line);
      if (m) rps[m[1]!] = Number(m[2]);
    }
    return rps;
  };
  const rows: string[][] = [];
  for (const [clients, pipeline] of [
    [1, 1],
    [50, 1],
    [50, 16],
  ] as const) {
    const direct = bench(server.socket, clients, pipeline, true);
    const proxy = bench(proxied, clients, pipeline, false);
    for (const command of ["SET", "GET"]) {
      const d = direct[command]!;
      const p = proxy[command]!;
      rows.push([
        `${command}, ${clients} client${clients > 1 ? "s" : ""}${pipeline > 1 ? `, pipeline ${pipeline}` : ""}`,
        `${d.toFixed(0)} req/s`,
        `${p.toFixed(0)} req/s`,
        `${((p / d) * 100).toFixed(1)}% of direct`,
      ]);
    }
  }
  const header = ["redis-benchmark -s", "direct (the server's socket)", "through credagent's socket", "ratio"];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  for (const r of [header, widths.map((w) => "-".repeat(w)), ...rows])
    console.log(`| ${r.map((c, i) => c.padEnd(widths[i]!)).join(" | ")} |`);
  console.log(`\n${requests} requests per run; server, agent and redis-benchmark on one machine (${navigator.hardwareConcurrency} CPUs).`);
} finally {
  await box.cleanup();
  server.stop();
}
