import { closeSync, fstatSync, ftruncateSync, openSync, renameSync, statSync, writeSync } from "node:fs";
import { lineHead } from "./log.ts";

// Where the agent's log lines go. A log that cannot be written (a full disk, a closed pipe) must
// never throw, loop or take the agent down: lines are dropped and counted, and once writing works
// again one line says how many were lost. (An ENOSPC on a stream used to surface as an uncaught
// exception whose handler logged through the same stream: 33,000 failed writes in 2 s, forever.)

export type LogSink = (text: string) => void;

type WriteFn = (fd: number, buffer: Uint8Array, offset: number, length: number) => number;

/**
 * Writes each line to a descriptor with synchronous writes, for regular files: a file never
 * blocks, and a synchronous write fails here, where it can be counted, instead of in a stream.
 */
export function descriptorSink(fd: number, now: () => number = Date.now, write: WriteFn = writeSync, pid: number = process.pid): LogSink {
  let dropped = 0;
  let lastError = "";
  // A line was cut short by the failure: the next write starts on a fresh line.
  let cut = false;

  const writeAll = (text: string): boolean => {
    const bytes = Buffer.from(text);
    let offset = 0;
    while (offset < bytes.length) {
      let n: number;
      try {
        n = write(fd, bytes, offset, bytes.length - offset);
      } catch (err) {
        lastError = errorCode(err);
        n = 0;
      }
      if (n <= 0) {
        if (offset > 0) cut = true;
        return false;
      }
      offset += n;
    }
    return true;
  };

  return (line) => {
    if (dropped > 0) {
      const notice =
        `${cut ? "\n" : ""}${lineHead(now(), "warn", pid)} log lines were dropped while the log could not be written` +
        ` count=${dropped} error=${lastError || "unknown"}\n`;
      if (!writeAll(notice)) {
        dropped += 1;
        return;
      }
      dropped = 0;
      cut = false;
    } else if (cut) {
      if (!writeAll("\n")) {
        dropped += 1;
        return;
      }
      cut = false;
    }
    if (!writeAll(line)) dropped += 1;
  };
}

/**
 * For a pipe or terminal, whose writes may block: the stream queues them, and its errors are
 * dropped (an unhandled 'error' would become an uncaught exception, whose handler writes a log
 * line, possibly to the same failing stream). The agent touches process.stdout and process.stderr
 * nowhere else once it runs: each is made at its first use (loading the runtime's stream modules,
 * ~5 ms of its start and memory for its life), and a stream never made cannot fail.
 */
export function streamSink(stream: NodeJS.WritableStream): LogSink {
  swallowErrors(stream);
  return (line) => {
    try {
      stream.write(line, () => {});
    } catch {
      // A destroyed stream throws on some runtimes; the line is lost, the agent is not.
    }
  };
}

/** The agent's standard error as a sink: synchronous when it is a file, a stream otherwise. */
export function stderrSink(now: () => number = Date.now): LogSink {
  let isFile = false;
  try {
    isFile = fstatSync(2).isFile();
  } catch {
    // A closed stderr: the stream sink drops what it cannot write.
  }
  return isFile ? descriptorSink(2, now) : streamSink(process.stderr);
}

function swallowErrors(stream: NodeJS.WritableStream): void {
  if (!stream.listeners("error").includes(ignore)) stream.on("error", ignore);
}

function ignore(): void {}

function errorCode(err: unknown): string {
  const code = (err as { code?: unknown })?.code;
  return typeof code === "string" ? code : "write_failed";
}

/** A file's identity, to tell whether two descriptors or a path and a descriptor are the same file. */
export interface FileIdentity {
  dev: number;
  ino: number;
}

export interface RotatingOptions {
  /** The file is rotated to PATH.1 before a line would take it past this size (default 1 MiB). */
  maxBytes?: number;
  now?: () => number;
  /** After a rotation: the file that was rotated away and the new file's descriptor (the agent points its stderr there). */
  onRotate?: (old: FileIdentity, fd: number) => void;
  /** Lets tests fail the rename. */
  rename?: (from: string, to: string) => void;
}

/**
 * The agent's log file, rotated by size to PATH.1 as the audit log is (its history is one file
 * back). A file moved away by another agent sharing the log (or by logrotate) is followed: the
 * path is reopened, not rotated again. A rotation that cannot rename (a file held open elsewhere, on Windows) empties the file instead:
 * the log stays bounded either way. Throws only when the file cannot be opened at all.
 */
export function rotatingFileSink(path: string, options: RotatingOptions = {}): { sink: LogSink; fd(): number } {
  const maxBytes = options.maxBytes ?? MAX_LOG_BYTES;
  const now = options.now ?? Date.now;
  const rename = options.rename ?? renameSync;
  let fd = openSync(path, "a", 0o600);
  let write = descriptorSink(fd, now);

  const reopen = () => {
    const old = identity(fd);
    const next = openSync(path, "a", 0o600);
    closeSync(fd);
    fd = next;
    write = descriptorSink(fd, now);
    if (old) options.onRotate?.(old, fd);
  };

  const rotate = () => {
    try {
      rename(path, `${path}.1`);
    } catch (err) {
      ftruncateSync(fd, 0);
      write(`${lineHead(now(), "warn")} the log could not be rotated to ${path}.1, so it was emptied instead error=${errorCode(err)}\n`);
      return;
    }
    reopen();
  };

  return {
    sink: (line) => {
      try {
        const current = fstatSync(fd);
        const atPath = pathIdentity(path);
        // Moved away by another agent sharing this log (or by logrotate), or removed: follow the path.
        if (!atPath || current.dev !== atPath.dev || current.ino !== atPath.ino) reopen();
        else if (current.size > 0 && current.size + Buffer.byteLength(line) > maxBytes) rotate();
      } catch {
        // The disk refuses even that: the descriptor sink counts what it cannot write.
      }
      write(line);
    },
    fd: () => fd,
  };
}

const MAX_LOG_BYTES = 1 << 20;

function identity(fd: number): FileIdentity | null {
  try {
    const { dev, ino } = fstatSync(fd);
    return { dev, ino };
  } catch {
    return null;
  }
}

function pathIdentity(path: string): FileIdentity | null {
  try {
    const { dev, ino } = statSync(path);
    return { dev, ino };
  } catch {
    return null;
  }
}
