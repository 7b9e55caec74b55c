import { spawnSync } from "node:child_process";
import { CredagentError } from "../../errors.ts";
import { EXIT } from "../../exit-codes.ts";
import { parseRegQuery, RUN_KEY, RUN_VALUE, runCommandLine } from "../../platform/windows-run.ts";
import { selfCommand } from "../../client/self.ts";
import type { CliContext } from "../io.ts";
import type { ServiceAction } from "./action.ts";
import { agentAnswers, restartOutdatedAgent, stopServiceAgent } from "./files.ts";

/** reg.exe (every Windows has it, Wine too), its output as text. */
function reg(args: string[]): { code: number; out: string } {
  const r = spawnSync("reg", args, { encoding: "utf8", windowsHide: true, timeout: 15_000 });
  if (r.error) throw new CredagentError("unavailable", `cannot run reg.exe: ${r.error.message}`);
  return { code: r.status ?? 1, out: `${r.stdout ?? ""}${r.stderr ?? ""}` };
}

function installedCommand(): string | null {
  const r = reg(["query", RUN_KEY, "/v", RUN_VALUE]);
  return r.code === 0 ? parseRegQuery(r.out, RUN_VALUE) : null;
}

/** Windows: the Run value that starts the agent at logon (platform/windows-run.ts says why that one). */
export async function windowsService(action: ServiceAction, ctx: CliContext): Promise<number> {
  const say = (line: string) => ctx.out(`${line}\n`);
  const wanted = runCommandLine(process.execPath);
  switch (action) {
    case "install": {
      const current = installedCommand();
      if (current === wanted) {
        say(`unchanged ${RUN_KEY}\\${RUN_VALUE}`);
      } else {
        const r = reg(["add", RUN_KEY, "/v", RUN_VALUE, "/t", "REG_SZ", "/d", wanted, "/f"]);
        if (r.code !== 0) throw new CredagentError("unavailable", `reg add ${RUN_KEY} failed: ${r.out.trim()}`);
        say(`${current === null ? "wrote" : "updated"} ${RUN_KEY}\\${RUN_VALUE} = ${wanted}`);
      }
      // And now, as `systemctl enable --now` does: the agent need not wait for the next logon.
      if ((await agentAnswers(ctx)) === null) {
        const [bin, ...args] = selfCommand();
        const started = spawnSync(bin!, [...args, "start", "-s", "--service"], { stdio: "ignore", windowsHide: true, timeout: 30_000 });
        if (started.status !== 0) throw new CredagentError("unavailable", "the agent did not start now; 'credagent start' says why");
      }
      await restartOutdatedAgent(ctx, say);
      const pid = await agentAnswers(ctx);
      say(`the agent starts at every logon; running now, pid ${pid}, at ${ctx.socketPath()}`);
      return EXIT.ok;
    }
    case "uninstall": {
      await stopServiceAgent(ctx, say);
      if (installedCommand() !== null) {
        const r = reg(["delete", RUN_KEY, "/v", RUN_VALUE, "/f"]);
        if (r.code !== 0) throw new CredagentError("unavailable", `reg delete ${RUN_KEY} /v ${RUN_VALUE} failed: ${r.out.trim()}`);
        say(`removed ${RUN_KEY}\\${RUN_VALUE}`);
      }
      return EXIT.ok;
    }
    default: {
      const current = installedCommand();
      say(current === null ? "installed: nothing (run 'credagent service install')" : `installed: ${RUN_KEY}\\${RUN_VALUE} = ${current}`);
      if (current !== null && current !== wanted)
        say(`  (another binary than this one, ${process.execPath}: 'credagent service install' updates it)`);
      const pid = await agentAnswers(ctx);
      say(`agent: ${pid === null ? "not running" : `running, pid ${pid}`} at ${ctx.socketPath()}`);
      return EXIT.ok;
    }
  }
}
