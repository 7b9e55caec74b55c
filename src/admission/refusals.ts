// Refused connections, told once per peer and interval: the first refusal of a peer (door and
// uid) at once, then how many more came, in one line at the end of the interval. Another user
// opening thousands of connections a second writes a few lines a minute to the owner's log and
// audit log, not one per connection (which filled the disk and pushed the owner's history out).

export interface Refusal {
  door: string;
  uid: number | null;
  /** The last refused process, where known. */
  pid: number | null;
  reason: string;
  /** 1 for the first of an interval; else how many came after it in the interval. */
  count: number;
}

export interface TallyDeps {
  emit(refusal: Refusal): void;
  now(): number;
  /** Runs `fn` after `ms` (unref'd); returns a cancel. */
  later?: (fn: () => void, ms: number) => () => void;
  intervalMs?: number;
}

/** Peers tracked at once; beyond, refusals of new peers share one line per door. */
const MAX_PEERS = 256;

export class RefusalTally {
  readonly #open = new Map<string, { first: number; pending: Refusal | null }>();
  #cancel: (() => void) | null = null;
  readonly #interval: number;

  constructor(private readonly deps: TallyDeps) {
    this.#interval = deps.intervalMs ?? 60_000;
  }

  count(refusal: Omit<Refusal, "count">): void {
    let key = `${refusal.door}\u0000${refusal.uid}`;
    if (!this.#open.has(key) && this.#open.size >= MAX_PEERS) key = `${refusal.door}\u0000*`;
    const open = this.#open.get(key);
    if (!open) {
      this.#open.set(key, { first: this.deps.now(), pending: null });
      this.deps.emit({ ...refusal, count: 1 });
      this.#arm();
      return;
    }
    open.pending = { ...refusal, count: (open.pending?.count ?? 0) + 1 };
  }

  /** Writes what is counted and forgets every peer. */
  flush(): void {
    for (const open of this.#open.values()) if (open.pending) this.deps.emit(open.pending);
    this.#open.clear();
    this.#cancel?.();
    this.#cancel = null;
  }

  #arm(): void {
    if (this.#cancel) return;
    const later =
      this.deps.later ??
      ((fn, ms) => {
        const t = setTimeout(fn, ms);
        t.unref?.();
        return () => clearTimeout(t);
      });
    this.#cancel = later(() => {
      this.#cancel = null;
      this.#expire();
    }, this.#interval);
  }

  /** Closes the intervals that ended: their counts are written; a peer still refused starts anew. */
  #expire(): void {
    const now = this.deps.now();
    for (const [key, open] of this.#open) {
      if (now - open.first < this.#interval) continue;
      if (open.pending) this.deps.emit(open.pending);
      this.#open.delete(key);
    }
    if (this.#open.size > 0) this.#arm();
  }
}
