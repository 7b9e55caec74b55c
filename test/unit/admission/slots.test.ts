import { describe, expect, test } from "bun:test";
import { ConnectionSlots, slotLimits, type Slot } from "../../../src/admission/slots.ts";

class FakeConnection implements Slot {
  busy = false;
  constructor(
    readonly pid: number | null,
    readonly name: string,
    readonly weight = 1,
  ) {}
  idle(): boolean {
    return !this.busy;
  }
}

/** Slots over a fake process table: `ended` pids are gone; the clock moves only when told. */
function makeSlots(max: number, ended = new Set<number>()) {
  let now = 0;
  const slots = new ConnectionSlots<FakeConnection>({ max }, { alive: (c) => !ended.has(c.pid!), now: () => now });
  return { slots, ended, tick: (ms: number) => (now += ms) };
}

function fill(slots: ConnectionSlots<FakeConnection>, pid: number | null, n: number, busy = false): FakeConnection[] {
  return Array.from({ length: n }, (_, i) => {
    const conn = new FakeConnection(pid, `${pid}-${i}`);
    conn.busy = busy;
    const admission = slots.admit(pid);
    expect(admission).toEqual({ admit: true, evict: [] });
    slots.add(conn);
    return conn;
  });
}

describe("slotLimits", () => {
  test("1024 at most, below the descriptor limit by a reserve, never under 16", () => {
    expect(slotLimits(1_048_576)).toEqual({ max: 1024 });
    expect(slotLimits(null)).toEqual({ max: 1024 });
    expect(slotLimits(1024)).toEqual({ max: 960 });
    expect(slotLimits(128)).toEqual({ max: 64 });
    expect(slotLimits(20)).toEqual({ max: 16 });
  });
});

describe("fair admission at the cap", () => {
  test("below the cap everyone is admitted, however many one process holds", () => {
    const { slots } = makeSlots(100);
    fill(slots, 9, 99);
    expect(slots.admit(9)).toEqual({ admit: true, evict: [] });
  });

  test("a newcomer closes the oldest connection of the largest holder, idle ones first", () => {
    const { slots } = makeSlots(6);
    const small = fill(slots, 1, 2);
    const big = fill(slots, 2, 4);
    big[0]!.busy = true;
    expect(slots.admit(3)).toEqual({ admit: true, evict: [big[1]!] });
    // Every connection of the largest holder busy: its oldest busy one goes.
    for (const c of big) c.busy = true;
    expect(slots.admit(3)).toEqual({ admit: true, evict: [big[0]!] });
    // The small holder is never touched while a larger one exists.
    expect(small.every((c) => !c.busy)).toBe(true);
  });

  test("nine processes holding 128 each cannot keep a one-connection process out (the attack of issue 21)", () => {
    const { slots } = makeSlots(1024);
    const flood = Array.from({ length: 8 }, (_, i) => fill(slots, 100 + i, 128, true)).flat();
    expect(slots.size).toBe(1024);
    // The ninth attacker holds none yet: it is admitted by closing another attacker's oldest.
    const ninth = slots.admit(108);
    expect(ninth.admit).toBe(true);
    // A legitimate get (a new process) always gets in, by closing an attacker's oldest.
    const legit = slots.admit(4242);
    expect(legit.admit).toBe(true);
    if (legit.admit) expect(flood).toContain(legit.evict[0]!);
  });

  test("the largest holder is refused further connections instead of closing its own", () => {
    const { slots } = makeSlots(4);
    fill(slots, 1, 1);
    fill(slots, 2, 3);
    const again = slots.admit(2);
    expect(again.admit).toBe(false);
    if (!again.admit) expect(again.reason).toContain("process 2 already holds 3 of the agent's 4 connection slots, its fair share");
    // A holder as large as the largest is refused too (it cannot take from an equal).
    const { slots: even } = makeSlots(4);
    fill(even, 1, 2);
    fill(even, 2, 2);
    expect(even.admit(1).admit).toBe(false);
    expect(even.admit(3).admit).toBe(true);
  });

  test("processes that reopen every connection closed do not evict each other at the cap (a storm the accept queue would wait behind)", () => {
    const { slots } = makeSlots(1024);
    // Nine attackers near their fair share (1024 / 9 = 113): each one's reconnect is refused, not admitted in place of another's.
    for (let i = 0; i < 9; i++) fill(slots, 100 + i, i < 7 ? 114 : 113);
    expect(slots.used).toBe(1024);
    for (let i = 0; i < 9; i++) expect(slots.admit(100 + i).admit).toBe(false);
    // A process holding none still gets in.
    expect(slots.admit(4242).admit).toBe(true);
  });

  test("connections whose processes have ended are one holder: short-lived children's connections kept by a parent", () => {
    const ended = new Set<number>();
    const { slots, tick } = makeSlots(60, ended);
    const parent = fill(slots, 500, 6);
    const orphans = Array.from({ length: 54 }, (_, i) => fill(slots, 1000 + i, 1)).flat();
    for (let i = 0; i < 54; i++) ended.add(1000 + i);
    tick(5_000);
    // Each child held one connection: by pid the parent (6) would look largest; the ended ones together (54) are.
    const legit = slots.admit(777);
    expect(legit.admit).toBe(true);
    if (legit.admit) expect(orphans).toContain(legit.evict[0]!);
    expect(parent.length).toBe(6);
    expect(slots.holders(2)).toEqual([
      { holder: "ended processes", slots: 54 },
      { holder: "500", slots: 6 },
    ]);
  });

  test("a session relayed to a database weighs two descriptors: enough is closed to make room", () => {
    const { slots } = makeSlots(4);
    fill(slots, 1, 1);
    const big = fill(slots, 2, 3);
    expect(slots.admit(3, 2)).toEqual({ admit: true, evict: [big[0]!, big[1]!] });
    const db = new FakeConnection(3, "db", 2);
    const { slots: s2 } = makeSlots(4);
    s2.add(db);
    expect(s2.used).toBe(2);
    s2.remove(db);
    expect(s2.used).toBe(0);
  });

  test("unknown peers (named pipes): the connection idle longest is closed; all busy, refused", () => {
    const { slots } = makeSlots(3);
    const [a, b, c] = fill(slots, null, 3);
    a!.busy = true;
    slots.becameIdle(b!);
    expect(slots.admit(null)).toEqual({ admit: true, evict: [c!] });
    for (const x of [a, b, c]) x!.busy = true;
    const refused = slots.admit(null);
    expect(refused.admit).toBe(false);
    if (!refused.admit) expect(refused.reason).toContain("all 3 of the agent's connection slots are busy");
  });

  test("removed connections free their slots; removing twice is harmless", () => {
    const { slots } = makeSlots(2);
    const [a] = fill(slots, 1, 1, true);
    slots.remove(a!);
    slots.remove(a!);
    expect(slots.size).toBe(0);
    expect(slots.used).toBe(0);
    expect(slots.holders(5)).toEqual([]);
  });
});
