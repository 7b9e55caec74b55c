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
import { agentHealth, removeTarget, restartOutdatedAgent, stopServiceAgent, writeTarget, type Target } from "./files.ts";
import { chooseLinuxService, type LinuxServiceKind } from "./linux-choice.ts";
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

/** Why the systemd user manager does not answer, or null when it does (it does in a login session of a systemd distribution). */
function userManagerProblem(env: Record<string, string | undefined>): string | null {
  const r = systemctl(["show-environment"], env);
  if (r === null) return "systemctl is not installed";
  return r.code === 0 ? null : r.out.split("\n")[0] || `exit ${r.code}`;
}
const userManagerAnswers = (env: Record<string, string | undefined>) => userManagerProblem(env) === null;

/** Linux: systemd user units with socket activation where systemd runs, else an XDG autostart entry. */
export async function linuxService(action: ServiceAction, ctx: CliContext, forced?: LinuxServiceKind): Promise<number> {
  const env = ctx.env;
  const binary = process.execPath;
  const hasSystemctl = Bun.which("systemctl", { PATH: env.PATH ?? "" }) !== null;
  const say = (line: string) => ctx.out(`${line}\n`);

  switch (action) {
    case "install": {
      const systemdBooted = existsSync("/run/systemd/system");
      const { kind, why } = chooseLinuxService({
        forced,
        systemdBooted,
        hasSystemctl,
        // Not asked where systemd does not run: systemctl would only say so, slowly.
        userManagerProblem: hasSystemctl && systemdBooted ? userManagerProblem(env) : "not asked",
      });
      if (kind === "systemd" && !hasSystemctl) throw new CredagentError("unavailable", "--systemd: systemctl is not installed here");
      const files = kind === "systemd" ? systemdFiles(env, binary) : autostartFiles(env, binary);
      for (const target of files) say(`${writeTarget(target) === "written" ? "wrote" : "unchanged"} ${target.path}`);
      if (kind === "xdg") {
        say(`XDG autostart (${why})`);
        say(`the agent starts at your next desktop login; apps find it at ${defaultSocketPath(ctx.pathEnv)}`);
        await restartOutdatedAgent(ctx, say);
        return EXIT.ok;
      }
      const commands = [["daemon-reload"], ["enable", "--now", SYSTEMD_SOCKET_UNIT]];
      if (!userManagerAnswers(env)) {
        say(`systemd (${why}), but the systemd user manager does not answer here (no login session?); in your session, run:`);
        for (const args of commands) say(`  systemctl --user ${args.join(" ")}`);
        return EXIT.ok;
      }
      for (const args of commands) {
        const r = systemctl(args, env)!;
        if (r.code !== 0) throw new CredagentError("unavailable", `systemctl --user ${args.join(" ")} failed: ${r.out}`);
      }
      say(`enabled ${SYSTEMD_SOCKET_UNIT} (${why}): systemd starts the agent at the first connection to ${defaultSocketPath(ctx.pathEnv)}`);
      say("CRED_SOCK is set for the session from your next login (environment.d)");
      // Asked only of an agent that runs: a connection to the socket would start one.
      if (systemctl(["is-active", SYSTEMD_SERVICE_UNIT], env)?.out === "active") await restartOutdatedAgent(ctx, say);
      return EXIT.ok;
    }
    case "uninstall": {
      const managed = hasSystemctl && userManagerAnswers(env);
      if (managed && [...systemdFiles(env, binary)].some((t) => existsSync(t.path))) {
        systemctl(["disable", "--now", SYSTEMD_SOCKET_UNIT, SYSTEMD_SERVICE_UNIT], env);
        say(`disabled and stopped ${SYSTEMD_SOCKET_UNIT} and ${SYSTEMD_SERVICE_UNIT}`);
      }
      // An agent still answering: stopped when the service started it (autostart, or a systemd that
      // no longer answers); one started by hand is the user's.
      await stopServiceAgent(ctx, say);
      // Both kinds: an install made with systemd and removed without it (or the reverse) leaves nothing.
      for (const target of [...systemdFiles(env, binary), ...autostartFiles(env, binary)]) {
        if (removeTarget(target.path)) say(`removed ${target.path}`);
      }
      if (managed) systemctl(["daemon-reload"], env);
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
      const health = await agentHealth(ctx);
      say(
        `agent: ${health === null ? "not running" : `running, pid ${health.pid}${health.service ? ", started by the service" : health.service === false ? ", started otherwise than by the service" : ""}`} at ${ctx.socketPath()}`,
      );
      return EXIT.ok;
    }
  }
}
