import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { stopAgent } from "../../client/stop.ts";
import { CredagentError, describe } from "../../errors.ts";
import type { HealthResponse } from "../../wire/types.ts";
import type { CliContext } from "../io.ts";
import { agentOf } from "../agent.ts";
import { askYesNo } from "../prompt.ts";

// What every platform's `credagent service` shares: files it writes and may remove (only its own,
// told by a mark in them), and the running agent.

export interface Target {
  path: string;
  content: string;
}

/** In every file install writes: what uninstall removes, and nothing else. */
export const MARK = "credagent service install";

/** Writes a file unless it already holds that content; refuses to replace a file it did not write. */
export function writeTarget(target: Target): "written" | "unchanged" {
  if (existsSync(target.path)) {
    const current = readFileSync(target.path, "utf8");
    if (current === target.content) return "unchanged";
    if (!current.includes(MARK))
      throw new CredagentError("unsafe_path", `${target.path} exists and was not written by credagent: move it away or merge it by hand`);
  }
  mkdirSync(dirname(target.path), { recursive: true });
  const temp = `${target.path}.${process.pid}.tmp`;
  writeFileSync(temp, target.content, { mode: 0o644 });
  renameSync(temp, target.path);
  return "written";
}

export function removeTarget(path: string): boolean {
  if (!existsSync(path)) return false;
  if (!readFileSync(path, "utf8").includes(MARK))
    throw new CredagentError("unsafe_path", `${path} was not written by credagent: left as it is`);
  rmSync(path);
  return true;
}

/** The pid of the agent answering at the context's socket, or null. */
export async function agentAnswers(ctx: CliContext): Promise<number | null> {
  return (await agentHealth(ctx))?.pid ?? null;
}

export async function agentHealth(ctx: CliContext): Promise<HealthResponse | null> {
  try {
    return await agentOf(ctx, 2_000).health();
  } catch {
    return null;
  }
}

/**
 * For uninstall: stops the agent at the context's socket only when the service started it (socket
 * activation, or the autostart entry's / Run value's `start --service`). One started otherwise
 * (`eval "$(credagent start)"` in a shell) is the user's: on a terminal they are asked, elsewhere
 * it is left running. Says what it did either way.
 */
export async function stopServiceAgent(
  ctx: CliContext,
  say: (line: string) => void,
  ask: (question: string) => Promise<boolean> = (q) => askYesNo(q, ctx.err),
): Promise<void> {
  const health = await agentHealth(ctx);
  if (!health) return;
  if (health.service !== true) {
    const whose = health.service === false ? "an agent started otherwise than by the service" : "an agent that may not be the service's";
    const leave = `left the agent (pid ${health.pid}) running: ${whose} ('credagent stop' stops it)`;
    if (!process.stdin.isTTY) return say(leave);
    if (!(await ask(`${whose} runs at ${health.socket} (pid ${health.pid}); stop it too? [y/N] `))) return say(leave);
  }
  await stopAgent(agentOf(ctx, 5_000), health.pid);
  say(`stopped the agent (pid ${health.pid})${health.service ? ", which the service started" : ""}`);
}

/** After an install: an agent running an older credagent (its program file replaced since) is restarted. */
export async function restartOutdatedAgent(ctx: CliContext, say: (line: string) => void): Promise<void> {
  const health = await agentHealth(ctx);
  if (!health?.binary_replaced) return;
  const { restartAgent } = await import("../commands/restart.ts");
  try {
    await restartAgent(ctx, agentOf(ctx, 5_000), health, { onlyIfOutdated: true });
  } catch (err) {
    say(
      `the running agent (pid ${health.pid}) runs the credagent program since replaced and was not restarted (${describe(err)}): ` +
        "restart it with 'credagent restart'",
    );
  }
}
