import { closeSync, mkdirSync, openSync, renameSync, statSync, writeSync } from "node:fs";
import { join } from "node:path";
import { AUDIT_FILE, type AuditEntry } from "../wire/audit.ts";

// Every access decision, as JSON lines in $XDG_STATE_HOME/credagent/audit.log (0600), rotated by
// size to audit.log.1. Written after the response, in batches; a failing disk never blocks or
// fails a request. Never a token: the entry type has no field for one.

const MAX_BYTES = 1 << 20;

export class AuditLog {
  #queue: string[] = [];
  #scheduled = false;
  // Kept open between batches; reopened after a rotation.
  #fd: number | undefined;
  #written = 0;

  constructor(
    private readonly dir: string,
    private readonly onError: (err: unknown) => void,
    private readonly maxBytes = MAX_BYTES,
  ) {}

  get path(): string {
    return join(this.dir, AUDIT_FILE);
  }

  record(entry: Omit<AuditEntry, "time">): void {
    this.#queue.push(`${JSON.stringify({ time: new Date().toISOString(), ...entry })}\n`);
    if (this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(() => this.flush());
  }

  flush(): void {
    this.#scheduled = false;
    const lines = this.#queue.join("");
    this.#queue = [];
    if (lines === "") return;
    try {
      if (this.#fd !== undefined && this.#written >= this.maxBytes) this.#rotate();
      if (this.#fd === undefined) this.#open();
      this.#written += writeSync(this.#fd!, lines);
    } catch (err) {
      this.close();
      this.onError(err);
    }
  }

  close(): void {
    if (this.#fd !== undefined) closeSync(this.#fd);
    this.#fd = undefined;
  }

  #open(): void {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    this.#fd = openSync(this.path, "a", 0o600);
    this.#written = statSync(this.path).size;
    if (this.#written >= this.maxBytes) this.#rotate();
  }

  #rotate(): void {
    this.close();
    renameSync(this.path, `${this.path}.1`);
    this.#fd = openSync(this.path, "a", 0o600);
    this.#written = 0;
  }
}
