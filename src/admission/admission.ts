import type { ErrorCode } from "../errors.ts";
import type { Accepted, Actor, PeerProcess } from "../identity/actor.ts";
import { lookUpPeer, lookUpProcess, type PeerLookup } from "../identity/identify.ts";
import { peerAllowed } from "../identity/peer.ts";
import { sameProcess } from "../identity/process-info.ts";
import type { Logger } from "../log/log.ts";
import type { Stream } from "../transport/stream.ts";
import { RefusalTally, type Refusal } from "./refusals.ts";
import { ConnectionSlots, type Slot, type SlotLimits } from "./slots.ts";

// The one admission step every front door is handed (the API socket, an activated socket, the
// named pipe, the database sockets, the loopback SDK endpoints): it says who is on the other end
// (identity/identify.ts, per transport and OS), applies the uid rule, and gives the connection a
// slot in the one pool all front doors share (slots.ts), closing another to make room when full.
// A front door never reads the peer itself; it gets an Actor, or nothing (the connection was
// refused and answered in the front door's own protocol).

/** A connection held by a front door, as admission needs it. */
export interface Held {
  /** No request in flight and none half received: closing it loses nothing. */
  idle(): boolean;
  /** Closes the connection (it was evicted to admit another); the front door then releases it. */
  evict(): void;
}

export interface DoorOptions {
  /** The front door's answer to a connection it will not serve, in its own protocol. */
  answer: RefusalAnswer;
  /** Descriptors one connection holds: 2 for a relayed database session (client and server). */
  weight?: number;
  /**
   * On loopback TCP, find the peer's process too (its socket's inode among the user's processes:
   * a /proc walk, so only for doors whose allow rules name programs: a database's listener).
   */
  tcpProcess?: boolean;
}

/** A front door's answer to a connection it will not serve, in its own protocol (HTTP, PostgreSQL…). */
export type RefusalAnswer = (code: ErrorCode, message: string) => Uint8Array;

export interface Door {
  readonly name: string;
  /**
   * Identifies the peer, applies the uid rule and the slots; `make` builds the front door's
   * connection for the Actor. Null when refused: the connection was answered and closed.
   */
  admit<T extends Held>(stream: Stream, make: (actor: Actor) => T): T | null;
  /** The connection closed: its slot is free. */
  release(held: Held): void;
  /** The connection finished a request and waits for the next: last in line for eviction. */
  becameIdle(held: Held): void;
}

export interface AdmissionOptions {
  agentUid: number;
  /** Root is refused too (as ssh-agent admits root, unless the config says deny_root). */
  denyRoot: boolean;
  limits: SlotLimits;
  log: Logger;
  /** Told of connections refused for who they are, aggregated (refusals.ts): the audit log. */
  onRefused?: (refusal: Refusal) => void;
  /** The kernel's answers; injected by tests (a fake process table). */
  lookUpPeer?: (accepted: Accepted) => PeerLookup;
  lookUpProcess?: (actor: Omit<Actor, "process">) => PeerProcess | null;
  /** Whether a connection's process still runs; injected by tests. */
  alive?: (held: HeldEntry) => boolean;
  now?: () => number;
}

/** What admission keeps of a held connection. */
export interface HeldEntry extends Slot {
  readonly held: Held;
  readonly startTime: number | null;
}

/** Refused connections waiting for their client to read why, at most, across every front door. */
const LINGERING_REFUSALS = 32;

class Entry implements HeldEntry {
  constructor(
    readonly held: Held,
    readonly pid: number | null,
    readonly startTime: number | null,
    readonly weight: number,
  ) {}
  idle(): boolean {
    return this.held.idle();
  }
}

export class Admission {
  readonly slots: ConnectionSlots<Entry>;
  readonly #entries = new WeakMap<Held, Entry>();
  readonly #tally: RefusalTally;
  readonly #pressure: PressureLog;
  #lingering = 0;

  constructor(private readonly options: AdmissionOptions) {
    const now = options.now ?? Date.now;
    const alive = options.alive ?? ((e: HeldEntry) => e.pid !== null && sameProcess({ pid: e.pid, startTime: e.startTime }));
    this.slots = new ConnectionSlots<Entry>(options.limits, { alive, now });
    this.#tally = new RefusalTally({
      now,
      emit: (refusal) => {
        const fields = { door: refusal.door, uid: refusal.uid, pid: refusal.pid, count: refusal.count, reason: refusal.reason };
        if (refusal.count === 1) options.log.warn("connection refused", fields);
        else options.log.warn("connections refused (one line per peer and minute)", fields);
        options.onRefused?.(refusal);
      },
    });
    this.#pressure = new PressureLog(options.log, this.slots, now);
  }

  door(name: string, options: DoorOptions): Door {
    const weight = options.weight ?? 1;
    return {
      name,
      admit: (stream, make) =>
        this.#admit(
          name,
          (s, code, message) => this.#refuse(s, options.answer(code, message)),
          weight,
          stream,
          make,
          options.tcpProcess ?? false,
        ),
      release: (held) => {
        const entry = this.#entries.get(held);
        if (entry) this.slots.remove(entry);
      },
      becameIdle: (held) => {
        const entry = this.#entries.get(held);
        if (entry) this.slots.becameIdle(entry);
      },
    };
  }

  /**
   * Answers a connection that was never admitted and ends it, the peer's bytes still read (and
   * dropped) until it closes or the linger runs out (transport/stream.ts): closing a socket with
   * the client's request unread makes the client's next read fail with ECONNRESET before it sees
   * why. Lingering connections hold descriptors beyond the cap, taken from the ones slots.ts
   * reserves: beyond LINGERING_REFUSALS at once (a flood of refused connections), they are closed
   * at once and may see that reset.
   */
  #refuse(stream: Stream, answer: Uint8Array): void {
    stream.write(answer);
    if (this.#lingering >= LINGERING_REFUSALS) return stream.destroy();
    this.#lingering += 1;
    stream.onClose = () => (this.#lingering -= 1);
    stream.onEnd = () => stream.destroy();
    stream.end({ linger: true });
  }

  /** Refusals counted but not yet written (at shutdown). */
  flush(): void {
    this.#tally.flush();
  }

  #admit<T extends Held>(
    door: string,
    refuse: (stream: Stream, code: ErrorCode, message: string) => void,
    weight: number,
    stream: Stream,
    make: (actor: Actor) => T,
    tcpProcess: boolean,
  ): T | null {
    const accepted: Accepted =
      stream.transport === "tcp"
        ? { transport: "tcp", addresses: stream.addresses, process: tcpProcess }
        : stream.transport === "pipe"
          ? { transport: "pipe" }
          : { transport: "unix", fd: stream.fd };
    const found = (this.options.lookUpPeer ?? lookUpPeer)(accepted);
    if (!found.ok) {
      this.#tally.count({ door, uid: found.uid, pid: null, reason: found.reason });
      refuse(stream, "forbidden", `this agent refused the connection: ${found.reason}`);
      return null;
    }
    const { actor } = found;
    if (actor.uid !== null && !peerAllowed({ pid: 0, uid: actor.uid, gid: 0 }, this.options.agentUid, this.options.denyRoot)) {
      this.#tally.count({ door, uid: actor.uid, pid: actor.peer?.pid ?? null, reason: "another user's process" });
      refuse(stream, "forbidden", "this agent serves only its own user");
      return null;
    }
    const pid = actor.peer?.pid ?? null;
    const decision = this.slots.admit(pid, weight);
    if (!decision.admit) {
      this.#pressure.refused(decision.reason);
      refuse(stream, "unavailable", `the agent refused this connection: ${decision.reason}`);
      return null;
    }
    for (const victim of decision.evict) {
      this.slots.remove(victim);
      victim.held.evict();
      this.#pressure.evicted();
    }
    // Read once per connection, after the slot: a refused flood costs no /proc read.
    const process = (this.options.lookUpProcess ?? lookUpProcess)(actor);
    const held = make({ ...actor, process });
    const entry = new Entry(held, pid, process?.startTime ?? null, weight);
    this.#entries.set(held, entry);
    this.slots.add(entry);
    return held;
  }
}

/**
 * One log line per 10 s at most about connections closed or refused at the cap: an attacker
 * opening thousands a second must not turn the log into its own flood.
 */
class PressureLog {
  #evicted = 0;
  #refused = 0;
  #lastReason = "";
  #lastLine = -Infinity;
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly log: Logger,
    private readonly slots: ConnectionSlots<Entry>,
    private readonly now: () => number,
    private readonly everyMs = 10_000,
  ) {}

  evicted(): void {
    this.#evicted += 1;
    this.#note();
  }

  refused(reason: string): void {
    this.#refused += 1;
    this.#lastReason = reason;
    this.#note();
  }

  #note(): void {
    if (this.#timer) return;
    this.#timer = setTimeout(() => this.#flush(), Math.max(0, this.#lastLine + this.everyMs - this.now()));
    this.#timer.unref?.();
  }

  #flush(): void {
    this.#timer = undefined;
    this.#lastLine = this.now();
    const top = this.slots.holders(1)[0];
    const fields = {
      evicted: this.#evicted,
      refused: this.#refused,
      slots_used: this.slots.used,
      max: this.slots.limits.max,
      top_holder: top?.holder,
      top_holder_slots: top?.slots,
    };
    if (this.#refused > 0)
      this.log.warn("connections refused: the agent's connection slots are full", { ...fields, reason: this.#lastReason });
    else this.log.info("connections closed to admit new ones (connection cap reached)", fields);
    this.#evicted = 0;
    this.#refused = 0;
  }
}
