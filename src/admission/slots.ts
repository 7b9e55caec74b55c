// Who may hold the agent's connections. The cap keeps the agent below its descriptor limit; at
// the cap, a new client is admitted by closing the connection that has been idle longest (a
// keep-alive connection costs its client nothing to reopen), and refused with a reason only when
// every connection is busy. One process may hold only a share, so that it cannot take every slot
// with connections it keeps busy (a body or headers it never finishes, until their deadline).
//
// Beyond its share, a process's new connection is refused rather than admitted in place of its
// own oldest: the outcome for that process is the same, and a refusal costs the agent a few
// microseconds where an admission costs a /proc read and an HTTP parser. Measured with an
// attacker reopening 1,000 connections as fast as they close: admitting kept the agent's accept
// loop busy without a break (Bun accepts until the backlog is empty) and a legitimate request
// waited up to 3.5 s for its first byte to be read; refusing lets the loop drain.

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

/** Admitted, after closing `evict` if given; or refused, with the reason for the client. */
export type Admission<T> = { admit: true; evict?: T } | { admit: false; reason: string };

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
  // In the order connections last became idle (re-inserted then), so the first idle one found is
  // the one idle longest, without a sort.
  readonly #all = new Set<T>();
  readonly #perPid = new Map<number, number>();

  constructor(readonly limits: SlotLimits) {}

  get size(): number {
    return this.#all.size;
  }

  /** Whether a new connection from `pid` may be held, and which held one to close first. */
  admit(pid: number | null): Admission<T> {
    const mine = pid === null ? 0 : (this.#perPid.get(pid) ?? 0);
    if (mine >= this.limits.perProcess) {
      return {
        admit: false,
        reason: `process ${pid} already holds ${mine} of the agent's connections, the most one process may; reuse them or close some`,
      };
    }
    if (this.#all.size < this.limits.max) return { admit: true };
    const victim = firstIdle(this.#all);
    if (!victim) {
      return {
        admit: false,
        reason: `all ${this.limits.max} of the agent's connections are busy; try again shortly, and if it persists see the agent's log`,
      };
    }
    return { admit: true, evict: victim };
  }

  add(slot: T): void {
    if (this.#all.has(slot)) return;
    this.#all.add(slot);
    if (slot.pid !== null) this.#perPid.set(slot.pid, (this.#perPid.get(slot.pid) ?? 0) + 1);
  }

  remove(slot: T): void {
    if (!this.#all.delete(slot) || slot.pid === null) return;
    const left = (this.#perPid.get(slot.pid) ?? 1) - 1;
    if (left > 0) this.#perPid.set(slot.pid, left);
    else this.#perPid.delete(slot.pid);
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
    return [...this.#perPid]
      .map(([pid, connections]) => ({ pid, connections }))
      .sort((a, b) => b.connections - a.connections)
      .slice(0, limit);
  }
}

function firstIdle<T extends Slot>(slots: Set<T>): T | undefined {
  for (const slot of slots) if (slot.idle()) return slot;
  return undefined;
}
