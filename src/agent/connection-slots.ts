// Who may hold the agent's connections. The cap keeps the agent below its descriptor limit; at
// the cap, a new client is admitted by closing the connection that has been idle longest (a
// keep-alive connection costs its client nothing to reopen), and refused with a reason only when
// every connection is busy. One process may hold only a share, so that it cannot take every slot
// with connections it keeps busy (a body or headers it never finishes, until their deadline).

/** A held connection, as the slots see it. */
export interface Slot {
  /** The peer's process (SO_PEERCRED); null where the transport cannot tell (named pipes). */
  readonly pid: number | null;
  /** No request in flight and none half received: closing it loses nothing. */
  idle(): boolean;
}

export interface SlotLimits {
  max: number;
  perProcess: number;
}

export type Admission<T> = { admit: true; evict: T[] } | { admit: false; reason: string };

/** Descriptors kept for everything but client connections: store, logs, sources' pipes. */
const RESERVED_FDS = 64;
const MIN_CONNECTIONS = 16;
const MAX_CONNECTIONS = 1024;

/** The cap under a descriptor limit (null: unknown), and the share of one process. */
export function slotLimits(fdLimit: number | null): SlotLimits {
  const max = fdLimit === null ? MAX_CONNECTIONS : Math.max(MIN_CONNECTIONS, Math.min(MAX_CONNECTIONS, fdLimit - RESERVED_FDS));
  return { max, perProcess: Math.max(8, Math.floor(max / 8)) };
}

export class ConnectionSlots<T extends Slot> {
  // Both kept in the order connections last became idle (re-inserted then), so the first idle one
  // found is the one idle longest, without a sort.
  readonly #all = new Set<T>();
  readonly #byPid = new Map<number, Set<T>>();

  constructor(readonly limits: SlotLimits) {}

  get size(): number {
    return this.#all.size;
  }

  /** Whether a new connection from `pid` may be held, and which held ones to close first. */
  admit(pid: number | null): Admission<T> {
    const evict: T[] = [];
    const mine = pid === null ? undefined : this.#byPid.get(pid);
    if (mine && mine.size >= this.limits.perProcess) {
      const victim = firstIdle(mine, evict);
      if (!victim) {
        return {
          admit: false,
          reason: `process ${pid} already holds ${mine.size} of the agent's connections, none of them idle (at most ${this.limits.perProcess} a process); let some finish and try again`,
        };
      }
      evict.push(victim);
    }
    if (this.#all.size - evict.length >= this.limits.max) {
      const victim = firstIdle(this.#all, evict);
      if (!victim) {
        return {
          admit: false,
          reason: `all ${this.limits.max} of the agent's connections are busy; try again shortly, and if it persists see the agent's log`,
        };
      }
      evict.push(victim);
    }
    return { admit: true, evict };
  }

  add(slot: T): void {
    this.#all.add(slot);
    if (slot.pid === null) return;
    let mine = this.#byPid.get(slot.pid);
    if (!mine) this.#byPid.set(slot.pid, (mine = new Set()));
    mine.add(slot);
  }

  remove(slot: T): void {
    if (!this.#all.delete(slot) || slot.pid === null) return;
    const mine = this.#byPid.get(slot.pid);
    mine?.delete(slot);
    if (mine?.size === 0) this.#byPid.delete(slot.pid);
  }

  /** The connection just became idle: it goes to the back of the eviction order. */
  becameIdle(slot: T): void {
    if (!this.#all.has(slot)) return;
    this.remove(slot);
    this.add(slot);
  }

  connections(): T[] {
    return [...this.#all];
  }

  /** How many connections each process holds, most first (for the log). */
  holders(limit: number): Array<{ pid: number; connections: number }> {
    return [...this.#byPid].map(([pid, set]) => ({ pid, connections: set.size })).sort((a, b) => b.connections - a.connections).slice(0, limit);
  }
}

function firstIdle<T extends Slot>(slots: Set<T>, except: T[]): T | undefined {
  for (const slot of slots) if (slot.idle() && !except.includes(slot)) return slot;
  return undefined;
}
