import { closeSync, fstatSync, mkdirSync, openSync, readSync } from "node:fs";
import { join } from "node:path";
import { CredagentError } from "../errors.ts";
import { EXIT } from "../exit-codes.ts";
import type { HealthResponse } from "../wire/types.ts";
import { AgentClient } from "./client.ts";
import { cleanChildEnv, selfCommand } from "./self.ts";

export interface StartOptions {
  socketPath: string;
  configPath?: string;
  lifetime?: string;
  keyring?: string;
  logDir: string;
  env: Record<string, string | undefined>;
  timeoutMs?: number;
}

export interface StartResult {
  health: HealthResponse;
  started: boolean;
}

const READY_FD = 3;

/**
 * Starts the agent detached (own session, logging to a file) unless one already answers at the
 * socket, and returns once the socket answers. Racing starts are safe: the agent's lock lets one
 * win; the losers exit with EXIT.agentRunning and their callers wait for the winner.
 */
export async function startAgent(options: StartOptions): Promise<StartResult> {
  const client = new AgentClient(options.socketPath, 2_000);
  const running = await probe(client);
  if (running) return { health: running, started: false };

  mkdirSync(options.logDir, { recursive: true, mode: 0o700 });
  const logPath = join(options.logDir, "agent.log");
  const logFd = openSync(logPath, "a", 0o600);
  const logOffset = fstatSync(logFd).size;
  const args = ["agent", "-d", "--log-level", "info", "-a", options.socketPath, "--ready-fd", String(READY_FD)];
  if (options.configPath) args.push("--config", options.configPath);
  if (options.lifetime) args.push("-t", options.lifetime);
  if (options.keyring) args.push("--keyring", options.keyring);

  const child = Bun.spawn([...selfCommand(), ...args], {
    stdio: ["ignore", logFd, logFd, "pipe"],
    env: cleanChildEnv(options.env),
    detached: true,
  });
  closeSync(logFd);
  child.unref();

  const deadline = Date.now() + (options.timeoutMs ?? 10_000);
  const ready = readReady(child.stdio[READY_FD] as unknown as number | undefined);
  const outcome = await Promise.race([
    ready.then(() => "ready" as const),
    child.exited.then((code) => code),
    sleep(deadline - Date.now()).then(() => "timeout" as const),
  ]);
  if (outcome === "ready") return { health: await client.health(), started: true };
  if (outcome === "timeout") {
    throw new CredagentError("unavailable", `the agent did not answer within ${(options.timeoutMs ?? 10_000) / 1000}s; see ${logPath}`);
  }
  if (outcome !== EXIT.agentRunning) {
    const why = readFrom(logPath, logOffset).trim() || `it exited with status ${outcome}`;
    throw new CredagentError("unavailable", `the agent did not start: ${why}`);
  }
  // Another agent won the race for the socket; wait for it to answer.
  while (Date.now() < deadline) {
    const health = await probe(client);
    if (health) return { health, started: false };
    await sleep(10);
  }
  throw new CredagentError("unavailable", `another agent holds ${options.socketPath} but does not answer; see ${logPath}`);
}

async function probe(client: AgentClient): Promise<HealthResponse | null> {
  try {
    return await client.health();
  } catch (err) {
    if (err instanceof CredagentError && err.code === "agent_not_running") return null;
    throw err;
  }
}

/** Resolves when the agent writes its ready line; never resolves if the pipe closes first. */
async function readReady(fd: number | undefined): Promise<void> {
  // Bun hands the parent's end of an extra pipe over as a bare descriptor.
  if (typeof fd !== "number") return new Promise(() => {});
  let text = "";
  for await (const chunk of Bun.file(fd).stream()) {
    text += new TextDecoder().decode(chunk);
    if (text.includes("\n")) return;
  }
  return new Promise(() => {});
}

function readFrom(path: string, offset: number): string {
  const fd = openSync(path, "r");
  try {
    const size = fstatSync(fd).size;
    const length = Math.min(size - offset, 16_384);
    if (length <= 0) return "";
    const buffer = Buffer.alloc(length);
    readSync(fd, buffer, 0, length, offset);
    // The agent's own log lines start with a timestamp; what it says to its user does not.
    const lines = buffer.toString("utf8").split("\n").filter((l) => !/^\d{4}-\d\d-\d\dT/.test(l));
    return lines.map((l) => l.replace(/^credagent: /, "")).join("\n");
  } finally {
    closeSync(fd);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
}
