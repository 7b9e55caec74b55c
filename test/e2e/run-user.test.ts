import { describe, expect, test } from "bun:test";
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { BIN, waitFor } from "./harness.ts";

// Without XDG_RUNTIME_DIR (cron, `sudo -u`, some SSH sessions) the agent and the CLI meet at
// /run/user/$UID when that is the user's private directory. Root makes one for the second test
// user (only when none exists, and removes it after); under CI=true this never skips. The user is
// this run's own (a name of its own, removed after), so that another suite run on the machine, which
// makes /run/user/$UID for its own user, is never in the way.
const USER = `ca-e2e-${crypto.randomUUID().slice(0, 8)}`;
const canRun = process.getuid!() === 0 && Bun.which("useradd") !== null && Bun.which("runuser") !== null && existsSync("/run/user");
if (!canRun) {
  if (process.env.CI === "true")
    throw new Error("CI=true but the /run/user test cannot run: it needs root, useradd, runuser and /run/user");
  console.warn("skipping the /run/user test: it needs root (useradd, runuser) and /run/user");
}

const RUNUSER = Bun.which("runuser") ?? "runuser";

/**
 * runuser passes SIGTERM on to the agent it started, but a SIGKILL to runuser would leave the
 * agent running: SIGTERM first, then SIGKILL to the agent (runuser's child) and to runuser.
 */
async function stop(runuser: ReturnType<typeof Bun.spawn>): Promise<void> {
  const children = (() => {
    try {
      return readFileSync(`/proc/${runuser.pid}/task/${runuser.pid}/children`, "utf8").trim().split(/\s+/).filter(Boolean).map(Number);
    } catch {
      return [];
    }
  })();
  runuser.kill("SIGTERM");
  const exited = await Promise.race([runuser.exited.then(() => true), Bun.sleep(3_000).then(() => false)]);
  if (exited) return;
  for (const pid of children) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
  runuser.kill("SIGKILL");
  await runuser.exited;
}

describe.if(canRun)("without XDG_RUNTIME_DIR", () => {
  test("agent and CLI use /run/user/$UID when it is the user's, else a private dir under TMPDIR", async () => {
    Bun.spawnSync(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", USER]);
    const uid = Number(Bun.spawnSync(["id", "-u", USER]).stdout.toString().trim());
    const gid = Number(Bun.spawnSync(["id", "-g", USER]).stdout.toString().trim());
    const runUser = `/run/user/${uid}`;
    if (existsSync(runUser)) {
      Bun.spawnSync(["userdel", USER]);
      throw new Error(`${runUser} already exists for the new user ${USER}: not this test's to change`);
    }
    const home = mkdtempSync("/tmp/ca-runuser-");
    const agents: Array<ReturnType<typeof Bun.spawn>> = [];
    try {
      mkdirSync(runUser, { mode: 0o700 });
      chownSync(runUser, uid, gid);
      chmodSync(runUser, 0o700);
      const tmp = join(home, "tmp");
      mkdirSync(tmp, { mode: 0o700 });
      mkdirSync(join(home, "cfg/credagent"), { recursive: true });
      writeFileSync(join(home, "cfg/credagent/config.toml"), `[credentials.u]\nsource = "command"\ncommand = ["echo", "user-token"]\n`);
      Bun.spawnSync(["chown", "-R", `${uid}:${gid}`, home]);
      chmodSync(home, 0o755);
      // No XDG_RUNTIME_DIR and no CRED_SOCK: as cron or `sudo -u` would run them.
      const env = {
        PATH: "/usr/bin:/bin",
        HOME: home,
        TMPDIR: tmp,
        XDG_CONFIG_HOME: join(home, "cfg"),
        XDG_STATE_HOME: join(home, "state"),
        XDG_DATA_HOME: join(home, "data"),
      };
      const asUser = (args: string[]) => Bun.spawnSync([RUNUSER, "-u", USER, "--", BIN, ...args], { env, timeout: 15_000 });

      const agentAt = async (socket: string) => {
        const agent = Bun.spawn([RUNUSER, "-u", USER, "--", BIN, "agent", "-d", "--keyring", "file"], { env, stderr: "pipe" });
        agents.push(agent);
        await waitFor(() => existsSync(socket), 5_000, `the agent's socket at ${socket}`);
        const status = asUser(["status"]);
        expect(status.stdout.toString()).toContain(`socket ${socket}`);
        expect(asUser(["get", "u"]).stdout.toString()).toBe("user-token\n");
        await stop(agent);
      };
      await agentAt(join(runUser, "cred.sock"));

      // Group bits on /run/user/$UID: not private, so not used.
      chmodSync(runUser, 0o750);
      await agentAt(join(tmp, `credagent-${uid}`, "cred.sock"));
      expect(existsSync(join(runUser, "cred.sock"))).toBe(false);
    } finally {
      await Promise.all(agents.map(stop));
      rmSync(runUser, { recursive: true, force: true });
      rmSync(home, { recursive: true, force: true });
      Bun.spawnSync(["userdel", USER]);
    }
  }, 30_000);
});
