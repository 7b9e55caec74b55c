import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import { AgentClient } from "../../client/client.ts";
import { CredagentError } from "../../errors.ts";
import { EXIT } from "../../exit-codes.ts";
import { defaultSocketPath } from "../../paths.ts";
import { AUTOSTART_FILE, autostartEntry } from "../../platform/xdg-autostart.ts";
import { ENVIRONMENT_D_FILE, environmentD, SYSTEMD_SERVICE_UNIT, SYSTEMD_SOCKET_UNIT, systemdServiceUnit, systemdSocketUnit } from "../../platform/systemd.ts";
import { defineCommand } from "../command.ts";
import type { CliContext } from "../io.ts";
import { UsageError } from "../io.ts";

const usage = `usage: credagent service install|uninstall|status

Starts the agent with the session, so that programs that never ran 'eval "$(credagent start)"'
(GUI apps, IDEs, cron jobs, user services) have it too.

  install     Linux with a systemd user manager: writes credagent.socket and credagent.service
              in ~/.config/systemd/user and CRED_SOCK in ~/.config/environment.d, then enables
              the socket: systemd starts the agent at the first connection to $XDG_RUNTIME_DIR/
              cred.sock ('credagent stop' stops it; the next connection starts a fresh one).
              When the user manager does not answer, it writes the files and prints the
              commands to run. Without systemd: an XDG autostart entry (~/.config/autostart).
  uninstall   stops the agent and removes exactly what install wrote
  status      what is installed, whether it is enabled and running, and the socket path

Both install and uninstall may be run again: they change only what differs.`;

interface Target {
  path: string;
  content: string;
}

function configHome(env: Record<string, string | undefined>): string {
  const value = env.XDG_CONFIG_HOME;
  return value && value.startsWith("/") ? value : join(env.HOME || homedir(), ".config");
}

/** The files install writes for systemd, and the autostart entry used without it. */
function systemdFiles(env: Record<string, string | undefined>, binary: string): Target[] {
  const config = configHome(env);
  return [
    { path: join(config, "systemd", "user", SYSTEMD_SOCKET_UNIT), content: systemdSocketUnit() },
    { path: join(config, "systemd", "user", SYSTEMD_SERVICE_UNIT), content: systemdServiceUnit(binary) },
    { path: join(config, "environment.d", ENVIRONMENT_D_FILE), content: environmentD() },
  ];
}

function autostartFiles(env: Record<string, string | undefined>, binary: string): Target[] {
  return [{ path: join(configHome(env), "autostart", AUTOSTART_FILE), content: autostartEntry(binary) }];
}

const MARK = "credagent service install";

/** Writes a file unless it already holds that content; refuses to replace a file it did not write. */
function writeTarget(target: Target): "written" | "unchanged" {
  if (existsSync(target.path)) {
    const current = readFileSync(target.path, "utf8");
    if (current === target.content) return "unchanged";
    if (!current.includes(MARK)) throw new CredagentError("unsafe_path", `${target.path} exists and was not written by credagent: move it away or merge it by hand`);
  }
  mkdirSync(dirname(target.path), { recursive: true });
  const temp = `${target.path}.${process.pid}.tmp`;
  writeFileSync(temp, target.content, { mode: 0o644 });
  renameSync(temp, target.path);
  return "written";
}

function removeTarget(path: string): boolean {
  if (!existsSync(path)) return false;
  if (!readFileSync(path, "utf8").includes(MARK)) throw new CredagentError("unsafe_path", `${path} was not written by credagent: left as it is`);
  rmSync(path);
  return true;
}

/** `systemctl --user ARGS`: null when systemctl is not installed. */
function systemctl(args: string[], env: Record<string, string | undefined>): { code: number; out: string } | null {
  const bin = Bun.which("systemctl", { PATH: env.PATH ?? "" });
  if (!bin) return null;
  const r = Bun.spawnSync([bin, "--user", ...args], { env: env as Record<string, string>, stdout: "pipe", stderr: "pipe", timeout: 15_000 });
  return { code: r.exitCode ?? 1, out: `${r.stdout.toString()}${r.stderr.toString()}`.trim() };
}

/** Whether a systemd user manager answers (it does in a login session of a systemd distribution). */
function userManagerAnswers(env: Record<string, string | undefined>): boolean {
  const r = systemctl(["show-environment"], env);
  return r !== null && r.code === 0;
}

async function agentAnswers(ctx: CliContext): Promise<number | null> {
  try {
    return (await new AgentClient(ctx.socketPath(), 2_000).health()).pid;
  } catch {
    return null;
  }
}

export const service = defineCommand("service", usage, {}, async ({ positionals }, ctx) => {
  if (positionals.length !== 1 || !["install", "uninstall", "status"].includes(positionals[0]!)) {
    throw new UsageError("expected one of install, uninstall, status");
  }
  if (process.platform !== "linux") {
    throw new CredagentError("not_implemented", `'credagent service' is implemented for Linux (systemd, XDG autostart) only; on ${process.platform}, start the agent from your login shell's profile (see the README)`);
  }
  const env = ctx.env;
  const binary = process.execPath;
  const hasSystemctl = Bun.which("systemctl", { PATH: env.PATH ?? "" }) !== null;
  const files = hasSystemctl ? systemdFiles(env, binary) : autostartFiles(env, binary);
  const say = (line: string) => ctx.out(`${line}\n`);

  switch (positionals[0]) {
    case "install": {
      for (const target of files) say(`${writeTarget(target) === "written" ? "wrote" : "unchanged"} ${target.path}`);
      if (!hasSystemctl) {
        say(`the agent starts at your next login (XDG autostart); apps find it at ${defaultSocketPath(ctx.pathEnv)}`);
        return EXIT.ok;
      }
      const commands = [["daemon-reload"], ["enable", "--now", SYSTEMD_SOCKET_UNIT]];
      if (!userManagerAnswers(env)) {
        say("the systemd user manager does not answer here (no login session?); in your session, run:");
        for (const args of commands) say(`  systemctl --user ${args.join(" ")}`);
        return EXIT.ok;
      }
      for (const args of commands) {
        const r = systemctl(args, env)!;
        if (r.code !== 0) throw new CredagentError("unavailable", `systemctl --user ${args.join(" ")} failed: ${r.out}`);
      }
      say(`enabled ${SYSTEMD_SOCKET_UNIT}: systemd starts the agent at the first connection to ${defaultSocketPath(ctx.pathEnv)}`);
      say("CRED_SOCK is set for the session from your next login (environment.d)");
      return EXIT.ok;
    }
    case "uninstall": {
      if (hasSystemctl && userManagerAnswers(env)) {
        systemctl(["disable", "--now", SYSTEMD_SOCKET_UNIT, SYSTEMD_SERVICE_UNIT], env);
      }
      // A running agent started otherwise (autostart, or systemd that no longer answers) is stopped too.
      const pid = await agentAnswers(ctx);
      if (pid !== null) {
        try {
          process.kill(pid, "SIGTERM");
          say(`stopped the agent (pid ${pid})`);
        } catch {
          // gone already
        }
      }
      // Both kinds: an install made with systemd and removed without it (or the reverse) leaves nothing.
      for (const target of [...systemdFiles(env, binary), ...autostartFiles(env, binary)]) {
        if (removeTarget(target.path)) say(`removed ${target.path}`);
      }
      if (hasSystemctl && userManagerAnswers(env)) systemctl(["daemon-reload"], env);
      return EXIT.ok;
    }
    default: {
      const installed = [...systemdFiles(env, binary), ...autostartFiles(env, binary)].filter((t) => existsSync(t.path));
      say(installed.length === 0 ? "installed: nothing (run 'credagent service install')" : `installed: ${installed.map((t) => t.path).join(", ")}`);
      if (hasSystemctl && installed.some((t) => t.path.endsWith(SYSTEMD_SOCKET_UNIT))) {
        if (userManagerAnswers(env)) {
          const enabled = systemctl(["is-enabled", SYSTEMD_SOCKET_UNIT], env)!;
          const active = systemctl(["is-active", SYSTEMD_SOCKET_UNIT], env)!;
          say(`${SYSTEMD_SOCKET_UNIT}: ${enabled.out || "unknown"}, ${active.out || "unknown"}`);
        } else {
          say(`${SYSTEMD_SOCKET_UNIT}: the systemd user manager does not answer here`);
        }
      }
      const pid = await agentAnswers(ctx);
      say(`agent: ${pid === null ? "not running" : `running, pid ${pid}`} at ${ctx.socketPath()}`);
      return EXIT.ok;
    }
  }
});
