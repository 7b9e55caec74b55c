// Who may hold the agent's connections. One pool for every front door (the API socket, the SDK
// endpoints, the database sockets), sized below the descriptor limit, so that no front door can
// starve another and accept() never meets EMFILE (Bun retries it in a busy loop).
//
// At the cap a new connection is admitted by closing the oldest connection of the largest
// holder — connections grouped by the process that opened them, with those whose process has
// ended as one holder — idle connections first. A newcomer that already holds its fair share
// (the cap over the processes holding any), or as many as any other holder, is refused instead. So a process that holds few connections always gets in however many
// others hold (`credagent approve`, `lock`, `status`, a legitimate `get`): many processes each
// holding many connections, or one process keeping connections its short-lived children opened,
// lose their own oldest. Where the peer's process is unknown (named pipes), the connection idle
// longest is closed, and a newcomer is refused only when every connection is busy.
//
// Refusing the largest holder's further connections rather than admitting them in place of its
// own oldest gives that process the same outcome, and costs the agent a few microseconds where an
// admission costs /proc reads and a parser: under a reconnect flood the accept loop drains.

/** A held connection, as the slots see it. */
export interface Slot {
  /** The peer's process; null where the transport cannot tell (named pipes). */
  readonly pid: number | null;
  /** Descriptors it holds: a relayed database session holds two (client and server). */
  readonly weight: number;
  /** No request in flight and none half received: closing it loses nothing. */
  idle(): boolean;
}

export interface SlotLimits {
  /** Descriptors for client connections, all front doors together. */
  max: number;
}

/** Admitted, after closing `evict`; or refused, with the reason for the client. */
export type Admission<T> = { admit: true; evict: T[] } | { admit: false; reason: string };

/** Descriptors kept for everything but client connections: store, logs, sources' pipes, listeners. */
const RESERVED_FDS = 64;
const MIN_CONNECTIONS = 16;
const MAX_CONNECTIONS = 1024;
/** How long a process found alive (or gone) is taken as such, at the cap. */
const LIVENESS_TTL_MS = 1_000;

/** The cap under a descriptor limit (null: unknown). */
export function slotLimits(fdLimit: number | null): SlotLimits {
  const max = fdLimit === null ? MAX_CONNECTIONS : Math.max(MIN_CONNECTIONS, Math.min(MAX_CONNECTIONS, fdLimit - RESERVED_FDS));
  return { max };
}

export interface SlotDeps<T> {
  /** Whether the process that opened `slot` still runs (pid not reused): checked only at the cap. */
  alive(slot: T): boolean;
  now(): number;
}

interface Group<T> {
  key: string;
  weight: number;
  slots: T[];
}

export class ConnectionSlots<T extends Slot> {
  // In the order connections were admitted or last became idle (re-inserted then): the first one
  // of a group found is its oldest, without a sort.
  readonly #all = new Set<T>();
  #used = 0;
  /** Descriptors per pid (ended or not): the refusal of a largest holder's reconnect flood costs a lookup, not a scan. */
  readonly #perPid = new Map<number, number>();
  readonly #liveness = new Map<number, { alive: boolean; at: number }>();

  constructor(
    readonly limits: SlotLimits,
    private readonly deps: SlotDeps<T>,
  ) {}

  /** Descriptors in use by connections. */
  get used(): number {
    return this.#used;
  }

  get size(): number {
    return this.#all.size;
  }

  /** Whether a new connection of `weight` from `pid` may be held, and which held ones to close first. */
  admit(pid: number | null, weight = 1): Admission<T> {
    if (this.#used + weight <= this.limits.max) return { admit: true, evict: [] };
    const need = this.#used + weight - this.limits.max;
    if (pid === null) return this.#evictIdle(need);
    const held = this.#perPid.get(pid) ?? 0;
    // A process already holding its fair share of the slots (the cap over the processes holding
    // any, itself counted) is refused at the cap, in constant time. Without this, processes that
    // reopen every connection closed would take turns evicting each other, and the connection a
    // newcomer waits with would sit in the accept queue behind that storm. A process holding none
    // is never refused here.
    const holders = this.#perPid.size + (held === 0 ? 1 : 0);
    if (held > 0 && (held + weight) * holders > this.limits.max) {
      return { admit: false, reason: largestReason(pid, held, this.limits.max, holders) };
    }
    const groups = this.#groups();
    const mine = groups.get(`p${pid}`)?.weight ?? 0;
    let largest: Group<T> | undefined;
    for (const group of groups.values()) if (!largest || group.weight > largest.weight) largest = group;
    if (!largest || largest.weight <= mine) return { admit: false, reason: largestReason(pid, mine, this.limits.max, groups.size) };
    const victims = pick(largest.slots, need);
    if (!victims) return { admit: false, reason: this.#busyReason() };
    return { admit: true, evict: victims };
  }

  add(slot: T): void {
    if (this.#all.has(slot)) return;
    this.#all.add(slot);
    this.#used += slot.weight;
    if (slot.pid !== null) this.#perPid.set(slot.pid, (this.#perPid.get(slot.pid) ?? 0) + slot.weight);
  }

  remove(slot: T): void {
    if (!this.#all.delete(slot)) return;
    this.#used -= slot.weight;
    if (slot.pid === null) return;
    const left = (this.#perPid.get(slot.pid) ?? slot.weight) - slot.weight;
    if (left > 0) this.#perPid.set(slot.pid, left);
    else this.#perPid.delete(slot.pid);
  }

  /** The connection just became idle: it goes to the back of the eviction order. */
  becameIdle(slot: T): void {
    if (!this.#all.has(slot)) return;
    this.#all.delete(slot);
    this.#all.add(slot);
  }

  connections(): T[] {
    return [...this.#all];
  }

  /** The largest holders, most first (for the log): a pid, "ended processes" or "unknown". */
  holders(limit: number): Array<{ holder: string; slots: number }> {
    return [...this.#groups().values()]
      .sort((a, b) => b.weight - a.weight)
      .slice(0, limit)
      .map((g) => ({ holder: g.key.startsWith("p") ? g.key.slice(1) : g.key, slots: g.weight }));
  }

  /** Connections by holder, each group's oldest first. */
  #groups(): Map<string, Group<T>> {
    const groups = new Map<string, Group<T>>();
    const now = this.deps.now();
    for (const slot of this.#all) {
      const key = slot.pid === null ? "unknown" : this.#alive(slot, now) ? `p${slot.pid}` : "ended processes";
      let group = groups.get(key);
      if (!group) groups.set(key, (group = { key, weight: 0, slots: [] }));
      group.weight += slot.weight;
      group.slots.push(slot);
    }
    return groups;
  }

  #alive(slot: T, now: number): boolean {
    const pid = slot.pid!;
    const known = this.#liveness.get(pid);
    if (known && now - known.at < LIVENESS_TTL_MS) return known.alive;
    if (this.#liveness.size > 4 * MAX_CONNECTIONS) this.#liveness.clear();
    const alive = this.deps.alive(slot);
    this.#liveness.set(pid, { alive, at: now });
    return alive;
  }

  #evictIdle(need: number): Admission<T> {
    const victims: T[] = [];
    let freed = 0;
    for (const slot of this.#all) {
      if (freed >= need) break;
      if (!slot.idle()) continue;
      victims.push(slot);
      freed += slot.weight;
    }
    return freed >= need ? { admit: true, evict: victims } : { admit: false, reason: this.#busyReason() };
  }

  #busyReason(): string {
    return `all ${this.limits.max} of the agent's connection slots are busy; try again shortly, and if it persists see the agent's log`;
  }
}

function largestReason(pid: number, held: number, max: number, holders: number): string {
  return `process ${pid} already holds ${held} of the agent's ${max} connection slots, its fair share with ${holders} processes holding some; reuse its connections or close some`;
}

/** Oldest idle connections first, then oldest busy ones, until `need` descriptors are freed; null if the group cannot free them. */
function pick<T extends Slot>(slots: T[], need: number): T[] | null {
  const victims: T[] = [];
  let freed = 0;
  for (const pass of [true, false]) {
    for (const slot of slots) {
      if (freed >= need) return victims;
      if (slot.idle() !== pass) continue;
      victims.push(slot);
      freed += slot.weight;
    }
  }
  return freed >= need ? victims : null;
}
