import { closeSync, mkdirSync, openSync, readFileSync, renameSync, statSync, writeSync } from "node:fs";
import { join } from "node:path";
import { terminalSafeJson } from "../printable.ts";
import { AUDIT_FILE, type AuditEntry } from "../wire/audit.ts";

// Every access decision, as JSON lines in $XDG_STATE_HOME/credagent/audit.log (0600), rotated by
// size to audit.log.1. Written after the response, in batches; a failing disk never blocks or
// fails a request. Never a token: the entry type has no field for one.
//
// What a peer can make it write is bounded, so that nobody erases the owner's history by making
// the agent refuse them (another user's flood of 36,700 refused requests in 2 s rotated the whole
// log away, issue 21):
// - The same decision again within REPEAT_WINDOW_MS is counted, not written: one line at once,
//   then one line with the count at the end of the window. "The same" is the same peer (its uid,
//   and for an allowed fetch its process), credential, program and reason; refusals are not told
//   apart by pid, since one peer can start as many processes as it likes.
// - Refusals have their own budget: at most half of each file. Past it they are counted, and the
//   count is written at the next rotation, so the allowed decisions are pushed out only by newer
//   allowed decisions.

const MAX_BYTES = 1 << 20;
const DENY_SHARE = 0.5;
const REPEAT_WINDOW_MS = 10_000;
/** Different decisions tracked in one window; beyond, the rest share one counted line per kind. */
const MAX_TRACKED = 256;

export type AuditRecord = Omit<AuditEntry, "time">;

export interface AuditOptions {
  maxBytes?: number;
  /** How long the same decision again is counted rather than written. */
  repeatWindowMs?: number;
  now?: () => number;
  /** Runs fn after ms (unref'd); returns a cancel. */
  later?: (fn: () => void, ms: number) => () => void;
}

interface Repeated {
  /** When the window opened (the first line was written). */
  first: number;
  count: number;
  last: AuditRecord;
  overflow: boolean;
}

export class AuditLog {
  #queue: Array<{ line: string; bytes: number; deny: boolean }> = [];
  #scheduled = false;
  // Kept open between batches; reopened after a rotation.
  #fd: number | undefined;
  #written = 0;
  /** Bytes of refusals in the current file, and refusals not written since their budget ran out. */
  #deniedBytes = 0;
  #denialsHeld = 0;
  #denialsFullTold = false;
  readonly #repeats = new Map<string, Repeated>();
  readonly #tracked = { allow: 0, deny: 0 };
  #cancelSweep: (() => void) | null = null;
  readonly #maxBytes: number;
  readonly #windowMs: number;
  readonly #now: () => number;
  readonly #later: (fn: () => void, ms: number) => () => void;

  constructor(
    private readonly dir: string,
    private readonly onError: (err: unknown) => void,
    options: AuditOptions = {},
  ) {
    this.#maxBytes = options.maxBytes ?? MAX_BYTES;
    this.#windowMs = options.repeatWindowMs ?? REPEAT_WINDOW_MS;
    this.#now = options.now ?? Date.now;
    this.#later = options.later ?? unrefTimer;
  }

  get path(): string {
    return join(this.dir, AUDIT_FILE);
  }

  record(entry: AuditRecord): void {
    // Already a count of several (the front doors' refusal tally): written as it is.
    if (entry.count !== undefined) return this.#enqueue(entry);
    let key = repeatKey(entry);
    let repeated = this.#repeats.get(key);
    // Allowed and refused decisions are tracked apart: refusals never crowd out the allowed ones.
    if (!repeated && this.#tracked[entry.decision] >= MAX_TRACKED) {
      key = `*${entry.decision}`;
      repeated = this.#repeats.get(key);
      if (!repeated) {
        repeated = { first: this.#now(), count: 0, last: entry, overflow: true };
        this.#repeats.set(key, repeated);
        this.#armSweep();
      }
    }
    if (repeated) {
      repeated.count += 1;
      repeated.last = entry;
      return;
    }
    this.#tracked[entry.decision] += 1;
    this.#repeats.set(key, { first: this.#now(), count: 0, last: entry, overflow: false });
    this.#armSweep();
    this.#enqueue(entry);
  }

  /** Writes what is queued, and the counts of every window still open (at stop). */
  flush(options: { closeWindows?: boolean } = {}): void {
    if (options.closeWindows) this.#sweep(Infinity);
    this.#scheduled = false;
    const queue = this.#queue;
    this.#queue = [];
    if (queue.length === 0) return;
    try {
      if (this.#fd === undefined) this.#open();
      let batch = "";
      let batchBytes = 0;
      // Rotates first when `bytes` more would take the file past its size.
      const makeRoom = (bytes: number) => {
        if (this.#written + batchBytes + bytes <= this.#maxBytes || this.#written + batchBytes === 0) return;
        this.#write(batch);
        batch = "";
        batchBytes = 0;
        this.#rotate();
      };
      const add = (line: string, bytes: number) => {
        makeRoom(bytes);
        batch += line;
        batchBytes += bytes;
      };
      for (const { line, bytes, deny } of queue) {
        if (deny) {
          // A rotation first may make room; the notice sits outside the share.
          makeRoom(bytes);
          if (this.#deniedBytes + bytes > this.#maxBytes * DENY_SHARE) {
            this.#denialsHeld += 1;
            if (!this.#denialsFullTold) {
              this.#denialsFullTold = true;
              const notice = this.#notice(
                `refusals past this line are counted, not written, until the log rotates: they may take half of ${AUDIT_FILE}`,
              );
              add(notice, Buffer.byteLength(notice));
            }
            continue;
          }
          this.#deniedBytes += bytes;
        }
        add(line, bytes);
      }
      this.#write(batch);
    } catch (err) {
      this.close();
      this.onError(err);
    }
  }

  #write(text: string): void {
    if (text !== "") this.#written += writeSync(this.#fd!, text);
  }

  close(): void {
    this.#cancelSweep?.();
    this.#cancelSweep = null;
    if (this.#fd !== undefined) closeSync(this.#fd);
    this.#fd = undefined;
  }

  #enqueue(entry: AuditRecord): void {
    // C1 controls and bidi overrides in an executable's path escaped as JSON does C0 ones: the same
    // value, and `tail -f audit.log` on a terminal is not driven by a peer's file name.
    const line = `${terminalSafeJson(JSON.stringify({ time: new Date(this.#now()).toISOString(), ...entry }))}\n`;
    this.#queue.push({ line, bytes: Buffer.byteLength(line), deny: entry.decision === "deny" });
    if (this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(() => this.flush());
  }

  #notice(reason: string, count?: number): string {
    const entry: AuditEntry = {
      time: new Date(this.#now()).toISOString(),
      event: "audit",
      decision: "deny",
      reason,
      credential: null,
      pid: null,
      uid: null,
      exe: null,
      ...(count === undefined ? {} : { count }),
    };
    return `${JSON.stringify(entry)}\n`;
  }

  #open(): void {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    this.#fd = openSync(this.path, "a", 0o600);
    this.#written = statSync(this.path).size;
    this.#deniedBytes = 0;
    this.#denialsFullTold = false;
    if (this.#written >= this.#maxBytes) this.#rotate();
    else if (this.#written > 0) this.#countDenials();
  }

  /** The refusals already in the file (an agent restarted): they count against its share. */
  #countDenials(): void {
    for (const line of readFileSync(this.path, "utf8").split("\n")) {
      if (line.includes('"decision":"deny"')) this.#deniedBytes += Buffer.byteLength(line) + 1;
    }
    this.#denialsFullTold = this.#deniedBytes > this.#maxBytes * DENY_SHARE;
  }

  #rotate(): void {
    if (this.#fd !== undefined) closeSync(this.#fd);
    this.#fd = undefined;
    renameSync(this.path, `${this.path}.1`);
    this.#fd = openSync(this.path, "a", 0o600);
    this.#written = 0;
    this.#deniedBytes = 0;
    this.#denialsFullTold = false;
    if (this.#denialsHeld > 0) {
      const held = this.#denialsHeld;
      this.#denialsHeld = 0;
      const line = this.#notice(`${held} refusals were counted but not written to ${AUDIT_FILE}.1: their share of it was used up`, held);
      this.#write(line);
      this.#deniedBytes += Buffer.byteLength(line);
    }
  }

  #armSweep(): void {
    if (this.#cancelSweep) return;
    this.#cancelSweep = this.#later(() => {
      this.#cancelSweep = null;
      this.#sweep(this.#now());
      if (this.#repeats.size > 0) this.#armSweep();
    }, this.#windowMs);
  }

  /** Closes the windows that ended by `now`: each with repeats gets one line with their count. */
  #sweep(now: number): void {
    for (const [key, repeated] of this.#repeats) {
      if (now - repeated.first < this.#windowMs) continue;
      this.#repeats.delete(key);
      if (!repeated.overflow) this.#tracked[repeated.last.decision] -= 1;
      if (repeated.count === 0) continue;
      const { last, count } = repeated;
      this.#enqueue(
        repeated.overflow
          ? {
              ...last,
              reason: `more kinds of decision than the audit log tells apart in ${this.#windowMs / 1000}s; the last: ${last.reason}`,
              count,
            }
          : { ...last, count },
      );
    }
  }
}

/** What makes two decisions "the same": everything but the time, the CLI's pid, and for a refusal the pid. */
function repeatKey(entry: AuditRecord): string {
  const { via, pid, ...rest } = entry;
  return JSON.stringify([rest, via?.exe ?? null, entry.decision === "allow" ? pid : null]);
}

function unrefTimer(fn: () => void, ms: number): () => void {
  const timer = setTimeout(fn, ms);
  (timer as { unref?: () => void }).unref?.();
  return () => clearTimeout(timer);
}
