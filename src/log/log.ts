// The agent's log: one line an event, "time [pid] LEVEL message key=value…". Fields are primitives
// only, so passing a Secret (an object) is a type error, and its toString says [redacted] anyway.
// The pid is on every line because agents on different sockets share one log file (the state
// directory is per user, not per socket); each agent's "agent ready" line names its socket.

import { terminalSafeJson } from "../printable.ts";
import type { FloodGuard } from "./flood.ts";

export type LogField = string | number | boolean | null | undefined;
export type LogFields = Record<string, LogField>;
export type LogLevel = "debug" | "info" | "warn" | "error";

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
}

/** The start of every line: "2026-01-01T00:00:00.000Z [4242] INFO". */
export function lineHead(time: number, level: LogLevel, pid: number = process.pid): string {
  return `${new Date(time).toISOString()} [${pid}] ${level.toUpperCase()}`;
}

export function createLogger(
  write: (line: string) => void,
  min: LogLevel,
  now: () => number = Date.now,
  pid: number = process.pid,
  /** Bounds the lines of each kind (message, uid, credential) per window; none by default. */
  guard?: FloodGuard,
): Logger {
  const format = (level: LogLevel, message: string, fields?: LogFields) => {
    let line = `${lineHead(now(), level, pid)} ${message}`;
    if (fields) {
      for (const [key, value] of Object.entries(fields)) {
        if (value === undefined) continue;
        line += ` ${key}=${formatValue(value)}`;
      }
    }
    return `${line}\n`;
  };
  const emit = (level: LogLevel, message: string, fields?: LogFields) => {
    if (RANK[level] < RANK[min]) return;
    if (guard) {
      const kind = `${level}\u0000${message}\u0000${fields?.uid ?? ""}\u0000${fields?.credential ?? ""}`;
      const tell = (held: number, overMs: number) =>
        write(format(level, `${message} (${held} more like this in ${Math.ceil(overMs / 1000)}s were not logged; the last:)`, fields));
      if (!guard.admit(kind, tell)) return;
    }
    write(format(level, message, fields));
  };
  return {
    debug: (m, f) => emit("debug", m, f),
    info: (m, f) => emit("info", m, f),
    warn: (m, f) => emit("warn", m, f),
    error: (m, f) => emit("error", m, f),
  };
}

function formatValue(value: LogField): string {
  const text = String(value);
  // Quoted as JSON, with what JSON leaves raw (C1 controls, bidi overrides) escaped too: a field
  // may be a peer's executable path or a source's output, and `tail -f agent.log` is a terminal.
  return /^[\w.:/@+-]+$/.test(text) ? text : terminalSafeJson(JSON.stringify(text));
}

export function parseLogLevel(text: string | undefined): LogLevel | undefined {
  return text === "debug" || text === "info" || text === "warn" || text === "error" ? text : undefined;
}
