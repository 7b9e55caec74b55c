// Runs a program in a process group of its own, so that nothing it starts outlives it: on abort
// the whole group gets SIGTERM, then SIGKILL after a grace; when the program exits, whatever it
// left in its group is ended the same way. The result is complete when the program itself exits:
// a background child still holding its stdout does not keep the caller waiting for EOF.

import { within } from "../time/clock.ts";

export interface GroupRunOptions {
  argv: string[];
  env: Record<string, string | undefined>;
  cwd?: string;
  /** Aborting ends the whole group (SIGTERM, then SIGKILL after graceMs). */
  signal: AbortSignal;
  /** A stream longer than this is reported as null, and the group is ended at once. */
  maxOutputBytes: number;
  /** How long a group has between SIGTERM and SIGKILL. */
  graceMs: number;
}

export interface GroupRunResult {
  /** Null when the program printed more than maxOutputBytes. Bytes, which the caller wipes: it may hold a token. */
  stdout: Uint8Array | null;
  stderr: string | null;
  exitCode: number | null;
  signalCode: string | null;
}

const POLL_MS = 50;
// After the group is gone (or killed), how long output still in flight may take to arrive. Only a
// holder that escaped the group (its own setsid) can keep a pipe open past this.
const DRAIN_MS = 500;

// Groups not yet known to be empty. An agent exiting (stop, lifetime) does not wait for a grace
// to run out: it kills them all on its way out.
const liveGroups = new Set<number>();
let exitHookInstalled = false;

function track(pgid: number): void {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.once("exit", () => {
      for (const id of liveGroups) signalGroup(id, "SIGKILL");
    });
  }
  liveGroups.add(pgid);
}

/** Sends sig to every process of the group; false when none is left. */
function signalGroup(pgid: number, sig: NodeJS.Signals | 0): boolean {
  try {
    process.kill(-pgid, sig);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ESRCH") return false;
    // No process groups to signal (Windows): the program alone.
    try {
      process.kill(pgid, sig);
      return true;
    } catch {
      return false;
    }
  }
}

/** SIGTERM to the group, SIGKILL to what is left after graceMs; resolves once it is empty or killed. */
function endGroup(pgid: number, graceMs: number): Promise<void> {
  if (!signalGroup(pgid, "SIGTERM")) {
    liveGroups.delete(pgid);
    return Promise.resolve();
  }
  return new Promise((resolve) => {
    const deadline = Date.now() + graceMs;
    const timer = setInterval(() => {
      if (signalGroup(pgid, 0) && Date.now() < deadline) return;
      // Polled rather than slept: a group that empties early frees its id, which the kernel may
      // then hand to an unrelated process group.
      signalGroup(pgid, "SIGKILL");
      clearInterval(timer);
      liveGroups.delete(pgid);
      resolve();
    }, POLL_MS);
  });
}

/** Reads a stream to its end or until cancelled, keeping at most maxBytes. */
class CappedOutput {
  readonly done: Promise<void>;
  #chunks: Uint8Array[] = [];
  #size = 0;
  #overflow = false;
  #cancel: () => void;

  constructor(stream: ReadableStream<Uint8Array>, maxBytes: number, onOverflow: () => void) {
    const reader = stream.getReader();
    this.#cancel = () => void reader.cancel().catch(() => {});
    this.done = this.#pump(() => reader.read(), maxBytes, onOverflow);
  }

  async #pump(read: () => Promise<{ done: boolean; value?: Uint8Array }>, maxBytes: number, onOverflow: () => void): Promise<void> {
    try {
      for (;;) {
        const { done, value } = await read();
        if (done || value === undefined) return;
        if (this.#overflow) continue;
        this.#size += value.byteLength;
        if (this.#size > maxBytes) {
          this.#overflow = true;
          for (const chunk of this.#chunks) chunk.fill(0);
          this.#chunks = [];
          value.fill(0);
          onOverflow();
        } else {
          this.#chunks.push(value);
        }
      }
    } catch {
      // Cancelled, or the pipe failed: what was read is what there is.
    }
  }

  /** Stops reading; the pipe is closed. */
  cancel(): void {
    this.#cancel();
  }

  text(): string | null {
    const bytes = this.bytes();
    if (bytes === null) return null;
    const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("utf8");
    bytes.fill(0);
    return text;
  }

  /** What was read, as one buffer the caller owns (and wipes: stdout may hold a token); the chunks are zeroed. */
  bytes(): Uint8Array | null {
    if (this.#overflow) return null;
    const out = new Uint8Array(this.#chunks.reduce((n, c) => n + c.byteLength, 0));
    let at = 0;
    for (const chunk of this.#chunks) {
      out.set(chunk, at);
      at += chunk.byteLength;
      chunk.fill(0);
    }
    this.#chunks = [];
    return out;
  }
}

/** Runs argv in a new session (its own process group) and returns its output once it has exited. Throws when it cannot be started. */
export async function runInOwnGroup(options: GroupRunOptions): Promise<GroupRunResult> {
  const child = Bun.spawn(options.argv, {
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
    env: options.env,
    cwd: options.cwd,
    // setsid(): the child leads a new process group, so one kill(-pid) reaches all it started
    // (unless something in it makes a session of its own, which is then its own business).
    detached: true,
  });
  const pgid = child.pid;
  track(pgid);
  let ending: Promise<void> | undefined;
  const end = (): Promise<void> => (ending ??= endGroup(pgid, options.graceMs));
  const stdout = new CappedOutput(child.stdout, options.maxOutputBytes, () => void end());
  const stderr = new CappedOutput(child.stderr, options.maxOutputBytes, () => void end());
  const onAbort = (): void => void end();
  if (options.signal.aborted) onAbort();
  else options.signal.addEventListener("abort", onAbort, { once: true });
  try {
    await child.exited;
  } finally {
    options.signal.removeEventListener("abort", onAbort);
  }
  // The program is done and what it printed is in the pipes. What it left in its group is ended
  // now; only that (or the drain after it) is waited for, never a background child's EOF.
  const outputsClosed = Promise.all([stdout.done, stderr.done]);
  await Promise.race([outputsClosed, end().then(() => within(outputsClosed, DRAIN_MS))]);
  stdout.cancel();
  stderr.cancel();
  return {
    stdout: stdout.bytes(),
    stderr: stderr.text(),
    exitCode: child.exitCode,
    signalCode: child.signalCode === null ? null : String(child.signalCode),
  };
}
