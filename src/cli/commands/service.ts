import { CredagentError } from "../../errors.ts";
import { defineCommand } from "../command.ts";
import { UsageError } from "../io.ts";
import type { ServiceAction } from "../service/action.ts";

const usage = `usage: credagent service install|uninstall|status

Starts the agent with the session, so that programs that never ran 'eval "$(credagent start)"'
(GUI apps, IDEs, cron jobs, user services) have it too.

  install     Linux with a systemd user manager: writes credagent.socket and credagent.service
              in ~/.config/systemd/user and CRED_SOCK in ~/.config/environment.d, then enables
              the socket: systemd starts the agent at the first connection to $XDG_RUNTIME_DIR/
              cred.sock ('credagent stop' stops it; the next connection starts a fresh one).
              When the user manager does not answer, it writes the files and prints the
              commands to run. Without systemd: an XDG autostart entry (~/.config/autostart).
              macOS: a LaunchAgent (~/Library/LaunchAgents/dev.credagent.agent.plist) whose
              socket launchd makes at login, with CRED_SOCK set for the session; the first
              connection starts the agent.
              Windows: the HKCU Run value 'credagent', which runs 'credagent start' at every
              logon; the agent is started now too.
  uninstall   stops the agent and removes exactly what install wrote
  status      what is installed, whether it is enabled and running, and the socket path

Both install and uninstall may be run again: they change only what differs.`;

export const service = defineCommand("service", usage, {}, async ({ positionals }, ctx) => {
  const action = positionals[0] as ServiceAction;
  if (positionals.length !== 1 || !["install", "uninstall", "status"].includes(action)) {
    throw new UsageError("expected one of install, uninstall, status");
  }
  switch (process.platform) {
    case "linux":
      return (await import("../service/linux.ts")).linuxService(action, ctx);
    case "win32":
      return (await import("../service/windows.ts")).windowsService(action, ctx);
    case "darwin":
      return (await import("../service/darwin.ts")).darwinService(action, ctx);
    default:
      throw new CredagentError(
        "not_implemented",
        `'credagent service' knows Linux, macOS and Windows; on ${process.platform}, start the agent from your login shell's profile (see the README)`,
      );
  }
});
