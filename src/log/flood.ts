// A bound on how many lines of one kind the log takes in a window: the first `perWindow` lines of a
// kind are written, the rest counted, and one line at the end of the window says how many were
// not written. A kind is a message from one uid about one credential, so a peer flooding the
// agent with refused connections writes a few lines a window, not one per connection (21 MiB in
// 10 s before, issue 21), while other messages and other peers are logged as before.

export interface FloodGuardOptions {
  /** Lines of one kind written per window (default 20). */
  perWindow?: number;
  windowMs?: number;
  now?: () => number;
  /** Runs fn after ms (unref'd); returns a cancel. */
  later?: (fn: () => void, ms: number) => () => void;
}

interface Kind {
  first: number;
  written: number;
  held: number;
  /** Writes the line saying how many were held back, over how many ms. */
  tell: ((held: number, overMs: number) => void) | null;
}

/** Kinds tracked at once; beyond, new kinds share one budget. */
const MAX_KINDS = 512;

export class FloodGuard {
  readonly #kinds = new Map<string, Kind>();
  #cancel: (() => void) | null = null;
  readonly #perWindow: number;
  readonly #windowMs: number;
  readonly #now: () => number;
  readonly #later: (fn: () => void, ms: number) => () => void;

  constructor(options: FloodGuardOptions = {}) {
    this.#perWindow = options.perWindow ?? 20;
    this.#windowMs = options.windowMs ?? 10_000;
    this.#now = options.now ?? Date.now;
    this.#later = options.later ?? unrefTimer;
  }

  /**
   * Whether a line of this kind is written now. When not, `tell` (the latest given) is called at
   * the end of the window with how many were held back.
   */
  admit(key: string, tell: (held: number, overMs: number) => void): boolean {
    let kind = this.#kinds.get(key);
    if (!kind && this.#kinds.size >= MAX_KINDS) {
      key = "\u0000*";
      kind = this.#kinds.get(key);
    }
    if (!kind) {
      kind = { first: this.#now(), written: 0, held: 0, tell: null };
      this.#kinds.set(key, kind);
      this.#arm();
    }
    if (kind.written < this.#perWindow) {
      kind.written += 1;
      return true;
    }
    kind.held += 1;
    kind.tell = tell;
    return false;
  }

  /** Tells every count held and forgets the windows (the agent is stopping). */
  flush(): void {
    this.#sweep(Infinity);
    this.#cancel?.();
    this.#cancel = null;
  }

  #arm(): void {
    if (this.#cancel) return;
    this.#cancel = this.#later(() => {
      this.#cancel = null;
      this.#sweep(this.#now());
      if (this.#kinds.size > 0) this.#arm();
    }, this.#windowMs);
  }

  /** Closes the windows that ended by `until` (Infinity: all of them, at stop). */
  #sweep(until: number): void {
    const now = this.#now();
    for (const [key, kind] of this.#kinds) {
      if (until - kind.first < this.#windowMs) continue;
      this.#kinds.delete(key);
      if (kind.held > 0) kind.tell?.(kind.held, Math.min(now - kind.first, this.#windowMs));
    }
  }
}

function unrefTimer(fn: () => void, ms: number): () => void {
  const timer = setTimeout(fn, ms);
  (timer as { unref?: () => void }).unref?.();
  return () => clearTimeout(timer);
}
