import { afterAll, beforeAll, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { BIN, Sandbox, waitFor } from "./harness.ts";

// `credagent service install|status|uninstall` through a real systemd user manager (Debian's
// systemd, `systemd --user`), started for this test in a mount namespace of its own
// (test/support/systemd-user.sh says why one is needed). Each command runs inside that namespace
// with nsenter, as a user's shell in a systemd session would run it.

const SUPPORT = join(import.meta.dir, "../support/systemd-user.sh");
const MANAGER = "/lib/systemd/systemd";
const root = process.getuid?.() === 0;
const why = !existsSync(MANAGER)
  ? "systemd is not installed (apt-get install systemd)"
  : !Bun.which("unshare") || !Bun.which("nsenter")
    ? "unshare/nsenter (util-linux) are missing"
    : !root
      ? "a mount namespace needs root"
      : null;
if (why && process.env.CI === "true") throw new Error(`CI=true and the systemd user manager test cannot run: ${why}`);
if (why) console.warn(`skipping the systemd user manager test: ${why}`);

let box: Sandbox;
let manager: Bun.Subprocess<"ignore", "pipe", "pipe"> | undefined;
let managerLog = "";

/** A command in the manager's mount namespace, with the sandbox's environment. */
async function inSession(argv: string[], timeoutMs = 20_000): Promise<{ code: number; stdout: string; stderr: string }> {
  const proc = Bun.spawn(["nsenter", "-t", String(manager!.pid), "-m", "--", ...argv], {
    env: box.env,
    stdout: "pipe",
    stderr: "pipe",
    timeout: timeoutMs,
  });
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { code, stdout, stderr };
}
const credagent = (...args: string[]) => inSession([BIN, ...args]);
const systemctl = (...args: string[]) => inSession(["systemctl", "--user", ...args]);

beforeAll(async () => {
  if (why) return;
  box = new Sandbox();
  box.writeConfig(`[credentials.db]\nsource = "command"\ncommand = ["sh", "-c", "echo tok-$$"]\n`);
  manager = Bun.spawn(["unshare", "-m", "--propagation", "private", SUPPORT], {
    env: box.env,
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  void new Response(manager.stderr).text().then((t) => (managerLog += t));
  void new Response(manager.stdout).text().then((t) => (managerLog += t));
  // Running once systemctl answers it (its own default units may be starting still: "starting").
  const ok = await waitFor(
    async () => /^(running|degraded|starting)/.test((await systemctl("is-system-running")).stdout),
    10_000,
    "the systemd user manager to answer",
  ).then(
    () => true,
    () => false,
  );
  if (!ok) throw new Error(`the systemd user manager did not start: ${managerLog}`);
}, 30_000);

afterAll(async () => {
  if (!manager) return;
  // The manager stops every unit it started (the agent among them) and exits.
  await systemctl("exit");
  const exited = await Promise.race([manager.exited.then(() => true), Bun.sleep(10_000).then(() => false)]);
  if (!exited) manager.kill("SIGKILL");
  await box.cleanup();
}, 30_000);

test.skipIf(why !== null)(
  "service install enables the socket in a real user manager: the first connection starts the agent; stop, and the next connection starts a fresh one; status; uninstall disables it and removes the files; both idempotent",
  async () => {
    const install = await credagent("service", "install");
    expect(install.stderr).toBe("");
    expect(install.code).toBe(0);
    // Detected, not assumed: systemd runs here (/run/systemd/system) and its user manager answers.
    expect(install.stdout).toContain(
      `enabled credagent.socket (a systemd user manager answers in this session): systemd starts the agent at the first connection to ${box.socket}`,
    );
    expect((await systemctl("is-enabled", "credagent.socket")).stdout.trim()).toBe("enabled");
    expect((await systemctl("is-active", "credagent.socket")).stdout.trim()).toBe("active");
    expect((await systemctl("is-active", "credagent.service")).stdout.trim()).toBe("inactive");
    const again = await credagent("service", "install");
    expect(again.stdout.match(/^unchanged /gm)?.length).toBe(3);

    // The first connection: systemd starts the agent on the socket it made (0600).
    const first = await inSession(["env", `CRED_SOCK=${box.socket}`, BIN, "get", "db"]);
    expect(first.stdout).toMatch(/^tok-\d+\n$/);
    const mainPid = async () => Number((await systemctl("show", "-p", "MainPID", "--value", "credagent.service")).stdout.trim());
    const pid = await mainPid();
    expect(pid).toBeGreaterThan(0);
    const status = await credagent("service", "status");
    expect(status.stdout).toContain("credagent.socket: enabled, active");
    expect(status.stdout).toContain(`agent: running, pid ${pid}, started by the service at ${box.socket}`);

    // stop ends this agent; the socket stays with systemd, and the next connection starts another.
    expect((await inSession(["env", `CRED_SOCK=${box.socket}`, BIN, "stop"])).code).toBe(0);
    await waitFor(async () => (await systemctl("is-active", "credagent.service")).stdout.trim() !== "active", 5_000, "the service to stop");
    expect((await inSession(["env", `CRED_SOCK=${box.socket}`, BIN, "get", "db"])).code).toBe(0);
    const next = await mainPid();
    expect(next).toBeGreaterThan(0);
    expect(next).not.toBe(pid);

    const uninstall = await credagent("service", "uninstall");
    expect(uninstall.code).toBe(0);
    expect(uninstall.stdout.match(/^removed /gm)?.length).toBe(3);
    expect(uninstall.stdout).toContain("disabled and stopped credagent.socket and credagent.service");
    expect((await systemctl("is-active", "credagent.socket")).stdout.trim()).toBe("inactive");
    expect((await systemctl("is-active", "credagent.service")).stdout.trim()).toBe("inactive");
    expect(existsSync(box.socket)).toBe(false);
    const twice = await credagent("service", "uninstall");
    expect(twice).toMatchObject({ code: 0, stdout: "" });
    expect((await credagent("service", "status")).stdout).toContain("installed: nothing");
  },
  60_000,
);
