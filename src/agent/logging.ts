import { closeSync, fstatSync, mkdirSync, writeSync } from "node:fs";
import { dirname, join } from "node:path";
import { describe } from "../errors.ts";
import { EXIT } from "../exit-codes.ts";
import { FloodGuard } from "../log/flood.ts";
import { createLogger, type Logger } from "../log/log.ts";
import { rotatingFileSink, stderrSink, type LogSink } from "../log/sink.ts";
import { stateDir, type PathEnv } from "../paths.ts";
import { stdioFollows } from "../platform/stdio.ts";
import type { HealthResponse } from "../wire/types.ts";
import type { AgentOptions } from "./options.ts";

// The agent's first phase: where it logs, and how it says it is ready or cannot start.

export interface AgentLogging {
  log: Logger;
  /** What any one peer can make the agent log is bounded: a few lines of a kind per window. */
  guard: FloodGuard;
  stderr: LogSink;
  /** The agent cannot start: says why on stderr, in the log, and on the ready pipe; returns the exit code. */
  fail(err: unknown): number;
  /**
   * Tells `credagent start` (its ready pipe) that the agent serves, with GET /v1/health's answer:
   * `ready {json}`, so that start prints its shell code without asking again.
   */
  ready(health: HealthResponse): void;
}

export function openAgentLogging(options: Pick<AgentOptions, "debug" | "logFile" | "readyFd" | "level">, pathEnv: PathEnv): AgentLogging {
  const stderr = stderrSink();
  const file = options.logFile
    ? openLogFile(dirname(options.logFile), options.logFile)
    : options.debug
      ? undefined
      : openLogFile(stateDir(pathEnv), join(stateDir(pathEnv), "agent.log"));
  const sink = file && "sink" in file ? file.sink : stderr;
  const guard = new FloodGuard();
  const log = createLogger(sink, options.level, Date.now, process.pid, guard);
  if (file && "error" in file) log.warn("cannot open the log file; logging to stderr", { error: file.error });
  // `credagent start` points the agent's stderr at the log file too: a reason to fail is said there once.
  const logsToStderr = sink === stderr || (file !== undefined && "sameAsStderr" in file && file.sameAsStderr);
  return {
    log,
    guard,
    stderr,
    fail(err) {
      const message = describe(err);
      // On stderr as plain text, for the person reading it; in the log file too when the log is
      // elsewhere; and on the ready pipe, which still works when the disk under the log is full.
      if (!logsToStderr) log.error("agent cannot start", { error: message });
      stderr(`credagent: ${message}\n`);
      writeReadyFd(options.readyFd, `error ${JSON.stringify(message)}\n`);
      return EXIT.failed;
    },
    ready: (health) => writeReadyFd(options.readyFd, `ready ${JSON.stringify(health)}\n`),
  };
}

/**
 * The log file, rotated by size (its stdout and stderr follow it when they are that file, as
 * under `credagent start`), or why it cannot be opened (the agent then logs to stderr rather
 * than not start).
 */
function openLogFile(dir: string, path: string): { sink: LogSink; sameAsStderr: boolean } | { error: string } {
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const file = rotatingFileSink(path, { onRotate: stdioFollows });
    return { sink: file.sink, sameAsStderr: sameFile(file.fd(), 2) };
  } catch (err) {
    return { error: describe(err) };
  }
}

function sameFile(a: number, b: number): boolean {
  try {
    const [x, y] = [fstatSync(a), fstatSync(b)];
    return x.ino !== 0 && x.dev === y.dev && x.ino === y.ino;
  } catch {
    return false;
  }
}

function writeReadyFd(fdText: string | undefined, line: string): void {
  if (fdText === undefined || !/^\d+$/.test(fdText)) return;
  const fd = Number(fdText);
  try {
    writeSync(fd, line);
    closeSync(fd);
  } catch {
    // The starter gave up waiting; it will find the socket answering anyway.
  }
}
