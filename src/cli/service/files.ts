import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { stopAgent } from "../../client/stop.ts";
import { CredagentError } from "../../errors.ts";
import type { CliContext } from "../io.ts";
import { agentOf } from "../agent.ts";

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
  try {
    return (await agentOf(ctx, 2_000).health()).pid;
  } catch {
    return null;
  }
}

/** Stops the agent answering at the context's socket, if one does; says so. */
export async function stopRunningAgent(ctx: CliContext, say: (line: string) => void): Promise<void> {
  const pid = await agentAnswers(ctx);
  if (pid === null) return;
  await stopAgent(agentOf(ctx, 5_000), pid);
  say(`stopped the agent (pid ${pid})`);
}
