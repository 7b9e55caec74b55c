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
      mkdirSync(this.dir, { recursive: true, mode: 0o700 });
      this.#rotateIfFull();
      const fd = openSync(this.path, "a", 0o600);
      try {
        writeSync(fd, lines);
      } finally {
        closeSync(fd);
      }
    } catch (err) {
      this.onError(err);
    }
  }

  #rotateIfFull(): void {
    try {
      if (statSync(this.path).size >= this.maxBytes) renameSync(this.path, `${this.path}.1`);
    } catch {
      // no log yet
    }
  }
}
