import { homedir } from "node:os";
import { join } from "node:path";
import { existsSync } from "node:fs";
import { CredagentError } from "../../errors.ts";
import { EXIT } from "../../exit-codes.ts";
import { defaultSocketPath } from "../../paths.ts";
import { AUTOSTART_FILE, autostartEntry } from "../../platform/xdg-autostart.ts";
import {
  ENVIRONMENT_D_FILE,
  environmentD,
  SYSTEMD_SERVICE_UNIT,
  SYSTEMD_SOCKET_UNIT,
  systemdServiceUnit,
  systemdSocketUnit,
} from "../../platform/systemd.ts";
import type { CliContext } from "../io.ts";
import { agentAnswers, removeTarget, stopRunningAgent, writeTarget, type Target } from "./files.ts";
import type { ServiceAction } from "./action.ts";

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

/** `systemctl --user ARGS`: null when systemctl is not installed. */
function systemctl(args: string[], env: Record<string, string | undefined>): { code: number; out: string } | null {
  const bin = Bun.which("systemctl", { PATH: env.PATH ?? "" });
  if (!bin) return null;
  const r = Bun.spawnSync([bin, "--user", ...args], {
    env: env as Record<string, string>,
    stdout: "pipe",
    stderr: "pipe",
    timeout: 15_000,
  });
  return { code: r.exitCode ?? 1, out: `${r.stdout.toString()}${r.stderr.toString()}`.trim() };
}

/** Whether a systemd user manager answers (it does in a login session of a systemd distribution). */
function userManagerAnswers(env: Record<string, string | undefined>): boolean {
  const r = systemctl(["show-environment"], env);
  return r !== null && r.code === 0;
}

/** Linux: systemd user units with socket activation, or an XDG autostart entry without systemd. */
export async function linuxService(action: ServiceAction, ctx: CliContext): Promise<number> {
  const env = ctx.env;
  const binary = process.execPath;
  const hasSystemctl = Bun.which("systemctl", { PATH: env.PATH ?? "" }) !== null;
  const files = hasSystemctl ? systemdFiles(env, binary) : autostartFiles(env, binary);
  const say = (line: string) => ctx.out(`${line}\n`);

  switch (action) {
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
      await stopRunningAgent(ctx, say);
      // Both kinds: an install made with systemd and removed without it (or the reverse) leaves nothing.
      for (const target of [...systemdFiles(env, binary), ...autostartFiles(env, binary)]) {
        if (removeTarget(target.path)) say(`removed ${target.path}`);
      }
      if (hasSystemctl && userManagerAnswers(env)) systemctl(["daemon-reload"], env);
      return EXIT.ok;
    }
    default: {
      const installed = [...systemdFiles(env, binary), ...autostartFiles(env, binary)].filter((t) => existsSync(t.path));
      say(
        installed.length === 0
          ? "installed: nothing (run 'credagent service install')"
          : `installed: ${installed.map((t) => t.path).join(", ")}`,
      );
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
}
