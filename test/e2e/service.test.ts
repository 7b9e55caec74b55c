import { afterEach, expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync, readlinkSync, statSync } from "node:fs";
import { join } from "node:path";
import { BIN, countingSource, Sandbox, waitFor } from "./harness.ts";

// The agent started by the session: socket activation under Debian's systemd-socket-activate (what
// a systemd .socket unit does), and `credagent service install|status|uninstall` writing units that
// systemd-analyze accepts.

const ACTIVATE = Bun.which("systemd-socket-activate");
const ANALYZE = Bun.which("systemd-analyze");
if ((!ACTIVATE || !ANALYZE) && process.env.CI === "true")
  throw new Error("CI=true and systemd-socket-activate / systemd-analyze are missing: test/run.sh installs systemd");
if (!ACTIVATE || !ANALYZE)
  console.warn("skipping the systemd tests: systemd-socket-activate or systemd-analyze is missing (apt-get install systemd)");

const boxes: Sandbox[] = [];
const started: Array<ReturnType<typeof Bun.spawn>> = [];
afterEach(async () => {
  for (const p of started.splice(0)) {
    p.kill("SIGKILL");
    await p.exited;
  }
  await Promise.all(boxes.splice(0).map((b) => b.cleanup()));
});

function sandbox(): Sandbox {
  const box = new Sandbox();
  boxes.push(box);
  box.env.CRED_SOCK = box.socket;
  return box;
}

/** systemd-socket-activate binds the socket and execs the agent at the first connection (it becomes the agent). */
function activate(box: Sandbox): ReturnType<typeof Bun.spawn> {
  const env = Object.entries(box.env).flatMap(([k, v]) => ["-E", `${k}=${v}`]);
  const proc = Bun.spawn([ACTIVATE!, "-l", box.socket, ...env, BIN, "agent", "--config", box.configFile], {
    stdout: "ignore",
    stderr: "pipe",
  });
  started.push(proc);
  return proc;
}

const cmdline = (pid: number) => {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter(Boolean);
  } catch {
    return [];
  }
};

/** Inodes of the sockets listening on TCP (IPv4 and IPv6), from the kernel's tables. */
function tcpListeningInodes(): Set<string> {
  const inodes = new Set<string>();
  for (const table of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    if (!existsSync(table)) continue;
    for (const line of readFileSync(table, "utf8").split("\n").slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f[3] === "0A") inodes.add(f[9]!);
    }
  }
  return inodes;
}

test.skipIf(!ACTIVATE)(
  "socket activation: the first connection starts the agent; 50 concurrent requests; another user refused; no TCP port; a restart serves the cached token",
  async () => {
    const box = sandbox();
    const counter = countingSource(box, "db", 3600);
    const envFile = join(box.root, "child-env");
    const source = box.script("source.sh", `env > ${envFile}\nexec ${counter.script}`);
    box.writeConfig(`[credentials.db]\nsource = "command"\ncommand = ["${source}"]\n`);
    const first = activate(box);
    await waitFor(() => existsSync(box.socket), 10_000, "systemd-socket-activate to bind the socket");
    // Nothing started yet: the activator waits for a connection.
    expect(cmdline(first.pid)[0]).toContain("systemd-socket-activate");

    const responses = await Promise.all(
      Array.from({ length: 50 }, () =>
        fetch("http://localhost/v1/credentials/db", { unix: box.socket } as RequestInit).then(async (r) => ({
          status: r.status,
          body: await r.text(),
        })),
      ),
    );
    expect(responses.map((r) => r.status)).toEqual(Array(50).fill(200));
    expect(new Set(responses.map((r) => JSON.parse(r.body).token))).toEqual(new Set(["db-1"]));
    // The activator became the agent, on systemd's socket (made 0600), with its session token beside it.
    expect(cmdline(first.pid).slice(0, 2)).toEqual([BIN, "agent"]);
    expect(statSync(box.socket).mode & 0o777).toBe(0o600);
    expect(existsSync(`${box.socket}.token`)).toBe(true);
    expect(box.agentLog).toContain("socket_activated=true");
    // No command it runs sees systemd's variables.
    expect(readFileSync(envFile, "utf8")).not.toMatch(/^LISTEN_/m);
    // Its sockets: none listens on TCP (Bun's http.Server.listen({ fd }) would, oven-sh/bun#22559).
    const own = readdirSync(`/proc/${first.pid}/fd`)
      .map((fd) => {
        try {
          return /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${first.pid}/fd/${fd}`))?.[1];
        } catch {
          return undefined;
        }
      })
      .filter((x): x is string => x !== undefined);
    expect(own.length).toBeGreaterThan(0);
    const listening = tcpListeningInodes();
    expect(own.filter((inode) => listening.has(inode))).toEqual([]);

    // Another user: refused (the socket's 0700 directory keeps it from even connecting).
    if (process.getuid!() === 0) {
      const other = Bun.spawnSync(
        [
          "runuser",
          "-u",
          "nobody",
          "--",
          "curl",
          "-s",
          "--max-time",
          "5",
          "--unix-socket",
          box.socket,
          "http://localhost/v1/credentials/db",
        ],
        { stdout: "pipe", stderr: "pipe" },
      );
      expect(other.exitCode).not.toBe(0);
      expect(other.stdout.toString()).not.toContain("db-1");
    }

    // Stopped: the socket file is systemd's and stays; a new activation starts a fresh agent,
    // which serves the token cached in the keyring without running the source again.
    await Bun.sleep(300); // the cache is written after the response
    expect((await box.run(["stop"])).code).toBe(0);
    await first.exited;
    expect(existsSync(box.socket)).toBe(true);
    const second = activate(box);
    await waitFor(() => cmdline(second.pid)[0]?.includes("systemd-socket-activate") === true, 10_000, "the second activator");
    await Bun.sleep(200);
    const again = await box.run(["get", "db"]);
    expect(again.stdout).toBe("db-1\n");
    expect(counter.count()).toBe(1);
    expect((await box.run(["stop"])).code).toBe(0);
    await second.exited;
  },
  60_000,
);

test.skipIf(!ACTIVATE)("socket activation refuses what is not its own: a socket in a directory open to others", async () => {
  const box = sandbox();
  box.writeConfig("");
  const { chmodSync } = await import("node:fs");
  chmodSync(box.runtimeDir, 0o755);
  const proc = activate(box);
  await waitFor(() => existsSync(box.socket), 10_000, "the socket");
  // The agent starts at this connection, refuses, and exits: the client sees the connection closed.
  await fetch("http://localhost/v1/health", { unix: box.socket } as RequestInit).catch(() => undefined);
  const code = await Promise.race([proc.exited, Bun.sleep(10_000).then(() => -1)]);
  expect(code).toBe(1);
  expect(await new Response(proc.stderr as ReadableStream).text()).toContain("set DirectoryMode=0700");
});

test.skipIf(!ANALYZE)(
  "service install writes units systemd-analyze accepts; twice changes nothing; status; uninstall leaves no file",
  async () => {
    const box = sandbox();
    // A session without a user manager (no bus here): plain install takes the autostart entry and
    // says why; --systemd writes the units anyway and says what to run.
    const env = { DBUS_SESSION_BUS_ADDRESS: undefined };
    const auto = await box.run(["service", "install"], { env });
    expect(auto.code).toBe(0);
    expect(auto.stdout).toMatch(
      /^XDG autostart \((systemd is not running on this machine \(no \/run\/systemd\/system|systemd runs, but no systemd user manager answers in this session)/m,
    );
    expect(auto.stdout).toContain("'--systemd' writes the systemd units anyway");
    expect(auto.stdout).not.toContain("systemctl --user enable");
    expect((await box.run(["service", "uninstall"], { env })).code).toBe(0);
    const install = await box.run(["service", "install", "--systemd"], { env });
    expect(install.stderr).toBe("");
    expect(install.code).toBe(0);
    const unitDir = join(box.root, "config", "systemd", "user");
    const socketUnit = join(unitDir, "credagent.socket");
    const serviceUnit = join(unitDir, "credagent.service");
    const envFile = join(box.root, "config", "environment.d", "60-credagent.conf");
    for (const file of [socketUnit, serviceUnit, envFile]) expect(install.stdout).toContain(`wrote ${file}`);
    expect(install.stdout).toContain("systemctl --user enable --now credagent.socket");
    expect(readFileSync(serviceUnit, "utf8")).toContain(`ExecStart=${BIN} agent\n`);
    expect(readFileSync(socketUnit, "utf8")).toContain("ListenStream=%t/cred.sock\nSocketMode=0600\nDirectoryMode=0700\n");
    expect(readFileSync(envFile, "utf8")).toContain("CRED_SOCK=${XDG_RUNTIME_DIR}/cred.sock");

    // systemd's own checker: any line it prints is a finding, and a failure here.
    const verify = Bun.spawnSync([ANALYZE!, "verify", "--user", socketUnit, serviceUnit], {
      env: {
        PATH: process.env.PATH ?? "/usr/bin:/bin",
        HOME: box.root,
        XDG_RUNTIME_DIR: box.runtimeDir,
        XDG_CONFIG_HOME: join(box.root, "config"),
        SYSTEMD_LOG_LEVEL: "warning",
      },
      stdout: "pipe",
      stderr: "pipe",
    });
    expect(`${verify.stdout}${verify.stderr}`.trim()).toBe("");
    expect(verify.exitCode).toBe(0);

    const twice = await box.run(["service", "install", "--systemd"], { env });
    for (const file of [socketUnit, serviceUnit, envFile]) expect(twice.stdout).toContain(`unchanged ${file}`);
    const status = await box.run(["service", "status"], { env });
    expect(status.stdout).toContain(`installed: ${socketUnit}`);
    expect(status.stdout).toContain(`agent: not running at ${box.socket}`);

    const uninstall = await box.run(["service", "uninstall"], { env });
    expect(uninstall.code).toBe(0);
    for (const file of [socketUnit, serviceUnit, envFile]) expect(uninstall.stdout).toContain(`removed ${file}`);
    for (const file of [socketUnit, serviceUnit, envFile]) expect(existsSync(file)).toBe(false);
    expect((await box.run(["service", "uninstall"], { env })).stdout).toBe("");
  },
);

test("without systemd: an XDG autostart entry; a file credagent did not write is never replaced", async () => {
  const box = sandbox();
  // No systemctl on this PATH.
  const env = { PATH: "/nonexistent" };
  const install = await box.run(["service", "install"], { env });
  expect(install.code).toBe(0);
  const entry = join(box.root, "config", "autostart", "credagent.desktop");
  expect(install.stdout).toContain(`wrote ${entry}`);
  const text = readFileSync(entry, "utf8");
  expect(text).toContain(`Exec=${BIN} start -s --service\n`);
  expect(text).toContain("[Desktop Entry]\nType=Application\n");
  const validate = Bun.which("desktop-file-validate");
  if (validate) expect(Bun.spawnSync([validate, entry]).stdout.toString()).toBe("");

  // An agent started by hand ('eval "$(credagent start)"') is the user's: uninstall, with no
  // terminal to ask on, leaves it running and says so.
  const byHand = await box.start();
  const kept = await box.run(["service", "uninstall"], { env });
  expect(kept.stdout).toContain(
    `left the agent (pid ${byHand}) running: an agent started otherwise than by the service ('credagent stop' stops it)`,
  );
  expect(kept.stdout).toContain(`removed ${entry}`);
  expect((await box.run(["status"])).code).toBe(0);
  expect((await box.run(["stop"])).code).toBe(0);

  // The one the autostart entry starts (its Exec line, as the session runs it) is the service's: stopped.
  expect((await box.run(["service", "install"], { env })).code).toBe(0);
  const exec = /^Exec=(.*)$/m.exec(readFileSync(entry, "utf8"))![1]!.split(" ");
  expect((await box.run(exec.slice(1))).code).toBe(0);
  expect((await box.run(["service", "status"], { env })).stdout).toMatch(/agent: running, pid \d+, started by the service at /);
  const uninstall = await box.run(["service", "uninstall"], { env });
  expect(uninstall.stdout).toMatch(/^stopped the agent \(pid \d+\), which the service started$/m);
  expect(uninstall.stdout).toContain(`removed ${entry}`);
  expect((await box.run(["status"])).code).toBe(3);

  const { mkdirSync, writeFileSync } = await import("node:fs");
  mkdirSync(join(box.root, "config", "autostart"), { recursive: true });
  writeFileSync(entry, "[Desktop Entry]\nName=mine\n");
  const refused = await box.run(["service", "install"], { env });
  expect(refused.code).toBe(1);
  expect(refused.stderr).toContain("was not written by credagent");
  expect(readFileSync(entry, "utf8")).toBe("[Desktop Entry]\nName=mine\n");
});
