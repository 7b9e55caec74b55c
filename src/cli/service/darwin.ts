import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { CredagentError } from "../../errors.ts";
import { EXIT } from "../../exit-codes.ts";
import { LAUNCHD_LABEL, LAUNCHD_PLIST, launchAgentPlist } from "../../platform/launchd.ts";
import type { CliContext } from "../io.ts";
import type { ServiceAction } from "./action.ts";
import { agentAnswers, removeTarget, restartOutdatedAgent, stopServiceAgent, writeTarget } from "./files.ts";
import { currentUid } from "../../platform/os.ts";

/** The launchctl commands each action runs, for the user's GUI domain (pure: unit-tested). */
export function launchctlCommands(action: "load" | "unload" | "print", uid: number, plistPath: string): string[] {
  const domain = `gui/${uid}`;
  if (action === "load") return ["bootstrap", domain, plistPath];
  if (action === "unload") return ["bootout", `${domain}/${LAUNCHD_LABEL}`];
  return ["print", `${domain}/${LAUNCHD_LABEL}`];
}

function launchctl(args: string[]): { code: number; out: string } {
  const r = spawnSync("/bin/launchctl", args, { encoding: "utf8", timeout: 15_000 });
  if (r.error) throw new CredagentError("unavailable", `cannot run launchctl: ${r.error.message}`);
  return { code: r.status ?? 1, out: `${r.stdout ?? ""}${r.stderr ?? ""}`.trim() };
}

/**
 * macOS: a LaunchAgent (platform/launchd.ts) that launchd loads at every login; its socket exists
 * from then on, CRED_SOCK names it in the session, and the first connection starts the agent.
 */
export async function darwinService(action: ServiceAction, ctx: CliContext): Promise<number> {
  const say = (line: string) => ctx.out(`${line}\n`);
  const uid = currentUid();
  const plist = join(ctx.env.HOME || homedir(), "Library", "LaunchAgents", LAUNCHD_PLIST);
  const loaded = () => launchctl(launchctlCommands("print", uid, plist)).code === 0;
  switch (action) {
    case "install": {
      const written = writeTarget({ path: plist, content: launchAgentPlist(process.execPath) });
      say(`${written === "written" ? "wrote" : "unchanged"} ${plist}`);
      if (written === "written" && loaded()) launchctl(launchctlCommands("unload", uid, plist));
      if (!loaded()) {
        const r = launchctl(launchctlCommands("load", uid, plist));
        if (r.code !== 0)
          throw new CredagentError("unavailable", `launchctl ${launchctlCommands("load", uid, plist).join(" ")} failed: ${r.out}`);
      }
      say(`loaded ${LAUNCHD_LABEL}: launchd starts the agent at the first connection; CRED_SOCK is set for programs started from now on`);
      // Asked only of an agent that runs: a connection to launchd's socket would start one.
      if (/\bstate = running\b/.test(launchctl(launchctlCommands("print", uid, plist)).out)) await restartOutdatedAgent(ctx, say);
      return EXIT.ok;
    }
    case "uninstall": {
      if (loaded()) launchctl(launchctlCommands("unload", uid, plist));
      await stopServiceAgent(ctx, say);
      if (removeTarget(plist)) say(`removed ${plist}`);
      return EXIT.ok;
    }
    default: {
      say(existsSync(plist) ? `installed: ${plist}` : "installed: nothing (run 'credagent service install')");
      say(`${LAUNCHD_LABEL}: ${loaded() ? "loaded" : "not loaded"}`);
      const pid = await agentAnswers(ctx);
      say(`agent: ${pid === null ? "not running" : `running, pid ${pid}`} at ${ctx.socketPath()}`);
      return EXIT.ok;
    }
  }
}
