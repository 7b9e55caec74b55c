import { closeSync, fstatSync, mkdirSync, openSync, readSync } from "node:fs";
import { join } from "node:path";
import { CredagentError, describe } from "../errors.ts";
import { EXIT } from "../exit-codes.ts";
import type { HealthResponse } from "../wire/types.ts";
import { AgentClient } from "./client.ts";
import { cleanChildEnv, selfCommand } from "./self.ts";
import { withAgentMallocTunables } from "../platform/malloc-tunables.ts";
import { capabilities } from "../platform/os.ts";
import { foregroundClock, pollUntil, TIMED_OUT, within, type Clock } from "../time/clock.ts";

export interface StartOptions {
  socketPath: string;
  configPath?: string;
  lifetime?: string;
  keyring?: string;
  /** The session service starts it (autostart entry, Windows Run value): `service uninstall` stops it. */
  service?: boolean;
  logDir: string;
  env: Record<string, string | undefined>;
  timeoutMs?: number;
  /** The caller just found no agent (no socket file): start without asking the socket first. */
  probed?: boolean;
}

export interface StartResult {
  health: HealthResponse;
  started: boolean;
}

const READY_FD = 3;
const STOP_GRACE_MS = 2_000;
/** The CLI waits on these timers alone at times: they keep it alive. */
const clock: Clock = foregroundClock;

/**
 * Starts the agent detached (own session, logging to a file) unless one already answers at the
 * socket, and returns once the socket answers. Racing starts are safe: the agent's lock lets one
 * win; the losers exit with EXIT.agentRunning and their callers wait for the winner.
 */
export async function startAgent(options: StartOptions): Promise<StartResult> {
  const client = new AgentClient(options.socketPath, 2_000);
  const running = options.probed ? null : await probe(client);
  if (running) return { health: running, started: false };

  const logPath = join(options.logDir, "agent.log");
  const log = openLog(options.logDir, logPath);
  if (capabilities.namedPipes) return startPolling(options, client, log, logPath);
  const args = ["agent", "--log-file", logPath, "--log-level", "info", "-a", options.socketPath, "--ready-fd", String(READY_FD)];
  if (options.configPath) args.push("--config", options.configPath);
  if (options.lifetime) args.push("-t", options.lifetime);
  if (options.keyring) args.push("--keyring", options.keyring);
  if (options.service) args.push("--service");

  const child = Bun.spawn([...selfCommand(), ...args], {
    // Without a log file (a full disk) the agent still starts; its reasons come on the ready pipe.
    stdio: ["ignore", log?.fd ?? "ignore", log?.fd ?? "ignore", "pipe"],
    env: withAgentMallocTunables(cleanChildEnv(options.env)),
    detached: true,
  });
  if (log) closeSync(log.fd);
  child.unref();

  const timeoutMs = options.timeoutMs ?? 10_000;
  const started = clock.now();
  const seeLog = log ? `; see ${logPath}` : "";
  const ready = readReady(child.stdio[READY_FD] as unknown as number | undefined);
  const said = await within(Promise.race([ready, child.exited.then((code) => ({ exited: code }))]), timeoutMs, clock);
  let outcome = said === TIMED_OUT ? ("timeout" as const) : said;
  if (outcome === null) {
    // The pipe closed without a word: normally because the agent is exiting; its status says why.
    const code = await within(child.exited, STOP_GRACE_MS, clock);
    outcome = code === TIMED_OUT ? "it closed its ready pipe but kept running; it was stopped" : { exited: code };
  }

  if (outcome !== null && typeof outcome === "object" && "ready" in outcome) {
    // The ready line carries the agent's health answer; an agent that gave none is asked.
    if (outcome.ready) return { health: outcome.ready, started: true };
    try {
      return { health: await client.health(), started: true };
    } catch (err) {
      await stopChild(child);
      throw new CredagentError(
        "unavailable",
        `the agent said it was ready but does not answer (${describe(err)}); it was stopped${seeLog}`,
        { cause: err },
      );
    }
  }
  if (outcome === "timeout") {
    // An agent that never became ready must not keep the socket and its lock: stop it.
    await stopChild(child);
    throw new CredagentError("unavailable", `the agent did not become ready within ${timeoutMs / 1000}s and was stopped${seeLog}`);
  }
  if (typeof outcome === "string") {
    // It said why it cannot start: it is exiting, or wedged on the way out.
    await stopChild(child);
    throw new CredagentError("unavailable", `the agent did not start: ${outcome}`);
  }
  if (outcome.exited !== EXIT.agentRunning) {
    const late = await within(ready, 200, clock);
    const told = typeof late === "string" ? late : null;
    const why = told || (log && readFrom(logPath, log.offset).trim()) || `it exited with status ${outcome.exited}`;
    throw new CredagentError("unavailable", `the agent did not start: ${why}`);
  }
  // Another agent won the race for the socket; wait for it to answer.
  const winner = await pollUntil(() => probe(client), { timeoutMs: Math.max(0, started + timeoutMs - clock.now()), intervalMs: 10, clock });
  if (winner) return { health: winner, started: false };
  throw new CredagentError("unavailable", `another agent holds ${options.socketPath} but does not answer${seeLog}`);
}

/** The agent's log, opened for it to append to; null when it cannot be (a full or read-only disk). */
function openLog(dir: string, path: string): { fd: number; offset: number } | null {
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const fd = openSync(path, "a", 0o600);
    return { fd, offset: fstatSync(fd).size };
  } catch {
    return null;
  }
}

/** SIGTERM, then SIGKILL after a grace: an agent this start began must not outlive its failure. */
async function stopChild(child: { kill(signal?: NodeJS.Signals): void; exited: Promise<number> }): Promise<void> {
  const exited = child.exited.then(() => true);
  try {
    child.kill("SIGTERM");
  } catch {
    return; // already gone
  }
  if ((await within(exited, STOP_GRACE_MS, clock)) === true) return;
  try {
    child.kill("SIGKILL");
  } catch {
    return;
  }
  await within(exited, STOP_GRACE_MS, clock);
}

async function probe(client: AgentClient): Promise<HealthResponse | null> {
  try {
    return await client.health();
  } catch (err) {
    if (err instanceof CredagentError && err.code === "agent_not_running") return null;
    throw err;
  }
}

/** The agent serves: with its health answer when the line carried one that reads as such. */
type Ready = { ready: HealthResponse | null };

/**
 * What the agent writes on its ready pipe: "ready" and its health answer once it serves, or why it
 * cannot start (the message after "error "); null when the pipe closes without a line. Never
 * settles without a pipe.
 */
async function readReady(fd: number | undefined): Promise<Ready | string | null> {
  // Bun hands the parent's end of an extra pipe over as a bare descriptor.
  if (typeof fd !== "number") return new Promise(() => {});
  let text = "";
  for await (const chunk of Bun.file(fd).stream()) {
    text += new TextDecoder().decode(chunk);
    const end = text.indexOf("\n");
    if (end >= 0) {
      const line = text.slice(0, end);
      if (line === "ready" || line.startsWith("ready ")) return { ready: parseReadyHealth(line.slice("ready ".length)) };
      return line.startsWith("error ") ? parseMessage(line.slice(6)) : line;
    }
  }
  return null;
}

/** The health answer on a ready line, when it has what start prints (a pid and a socket); else null. */
export function parseReadyHealth(json: string): HealthResponse | null {
  try {
    const value = JSON.parse(json) as Partial<HealthResponse> | null;
    if (value?.status !== "ok" || typeof value.pid !== "number" || typeof value.socket !== "string") return null;
    return value as HealthResponse;
  } catch {
    return null;
  }
}

function parseMessage(json: string): string {
  try {
    const value: unknown = JSON.parse(json);
    return typeof value === "string" ? value : json;
  } catch {
    return json;
  }
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
    const lines = buffer
      .toString("utf8")
      .split("\n")
      .filter((l) => !/^\d{4}-\d\d-\d\dT/.test(l));
    return lines.map((l) => l.replace(/^credagent: /, "")).join("\n");
  } finally {
    closeSync(fd);
  }
}

/**
 * Windows: an extra stdio pipe for the ready signal fails there (EMFILE from Bun.spawn), so the
 * agent is started with its output in the log and the pipe polled until it answers, the agent
 * exits, or the deadline passes.
 */
async function startPolling(options: StartOptions, client: AgentClient, log: { fd: number } | null, logPath: string): Promise<StartResult> {
  const args = ["agent", "--log-file", logPath, "--log-level", "info", "-a", options.socketPath];
  if (options.configPath) args.push("--config", options.configPath);
  if (options.lifetime) args.push("-t", options.lifetime);
  if (options.keyring) args.push("--keyring", options.keyring);
  if (options.service) args.push("--service");
  const child = Bun.spawn([...selfCommand(), ...args], {
    stdio: ["ignore", log?.fd ?? "ignore", log?.fd ?? "ignore"],
    env: withAgentMallocTunables(cleanChildEnv(options.env)),
    detached: true,
  });
  if (log) closeSync(log.fd);
  child.unref();
  let exited: number | null = null;
  void child.exited.then((code) => (exited = code));
  const timeoutMs = options.timeoutMs ?? 10_000;
  const answered = await pollUntil(
    async (): Promise<StartResult | null> => {
      const health = await probe(client);
      if (health) return { health, started: true };
      if (exited === null) return null;
      if (exited === EXIT.agentRunning) {
        const winner = await probe(client);
        if (winner) return { health: winner, started: false };
      }
      throw new CredagentError("unavailable", `the agent exited with status ${exited} before it answered; see ${logPath}`);
    },
    { timeoutMs, intervalMs: 100, clock },
  );
  if (answered) return answered;
  await stopChild(child);
  throw new CredagentError("unavailable", `the agent did not answer within ${timeoutMs / 1000}s and was stopped; see ${logPath}`);
}
