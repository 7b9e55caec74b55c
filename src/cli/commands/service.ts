import { CredagentError } from "../../errors.ts";
import { defineCommand } from "../command.ts";
import { UsageError } from "../io.ts";
import type { ServiceAction } from "../service/action.ts";
import { capabilities } from "../../platform/os.ts";

const usage = `usage: credagent service install [--systemd|--xdg] | uninstall | status

Starts the agent with the session, so that programs that never ran 'eval "$(credagent start)"'
(GUI apps, IDEs, cron jobs, user services) have it too.

  install     Linux where systemd runs (/run/systemd/system) and a systemd user manager answers:
              writes credagent.socket and credagent.service in ~/.config/systemd/user and
              CRED_SOCK in ~/.config/environment.d, then enables the socket: systemd starts the
              agent at the first connection to $XDG_RUNTIME_DIR/cred.sock ('credagent stop'
              stops it; the next connection starts a fresh one). Elsewhere (containers, WSL
              without systemd, another init), an XDG autostart entry (~/.config/autostart) that
              runs 'credagent start --service' at desktop login; install says which and why.
              --systemd writes the units anyway (and prints the commands that enable them when
              no user manager answers); --xdg takes the autostart entry.
              macOS: a LaunchAgent (~/Library/LaunchAgents/dev.credagent.agent.plist) whose
              socket launchd makes at login, with CRED_SOCK set for the session; the first
              connection starts the agent.
              Windows: the HKCU Run value 'credagent', which runs 'credagent start --service'
              at every logon; the agent is started now too.
              A running agent of an older credagent (its program replaced since it started, by an
              upgrade) is restarted on the new one.
  uninstall   removes exactly what install wrote; stops the agent the service started, and no
              other: one started by hand is left running (on a terminal, you are asked)
  status      what is installed, whether it is enabled and running, and the socket path

Both install and uninstall may be run again: they change only what differs.`;

export const service = defineCommand(
  "service",
  usage,
  { systemd: { type: "boolean" }, xdg: { type: "boolean" } },
  async ({ values, positionals }, ctx) => {
    const action = positionals[0] as ServiceAction;
    if (positionals.length !== 1 || !["install", "uninstall", "status"].includes(action)) {
      throw new UsageError("expected one of install, uninstall, status");
    }
    if (values.systemd && values.xdg) throw new UsageError("--systemd and --xdg exclude each other");
    const forced = values.systemd ? "systemd" : values.xdg ? "xdg" : undefined;
    if (forced && (action !== "install" || capabilities.autostart !== "linux"))
      throw new UsageError(`--${forced} goes with 'service install' on Linux`);
    switch (capabilities.autostart) {
      case "linux":
        return (await import("../service/linux.ts")).linuxService(action, ctx, forced);
      case "windows-run":
        return (await import("../service/windows.ts")).windowsService(action, ctx);
      case "launchd":
        return (await import("../service/darwin.ts")).darwinService(action, ctx);
      case null:
        throw new CredagentError(
          "not_implemented",
          `'credagent service' knows Linux, macOS and Windows; on ${capabilities.os}, start the agent from your login shell's profile (see the README)`,
        );
    }
  },
);
