import { describe, expect, test } from "bun:test";
import { ConnectionSlots, slotLimits, type Slot } from "../../../src/admission/slots.ts";

class FakeConnection implements Slot {
  busy = false;
  constructor(
    readonly pid: number | null,
    readonly name: string,
  ) {}
  idle(): boolean {
    return !this.busy;
  }
}

function fill(slots: ConnectionSlots<FakeConnection>, pid: number | null, n: number, busy = false): FakeConnection[] {
  return Array.from({ length: n }, (_, i) => {
    const conn = new FakeConnection(pid, `${pid}-${i}`);
    conn.busy = busy;
    const admission = slots.admit(pid);
    expect(admission).toEqual({ admit: true });
    slots.add(conn);
    return conn;
  });
}

describe("slotLimits", () => {
  test("1024 at most, below the descriptor limit by a reserve, never under 16; a process gets an eighth, at least 8", () => {
    expect(slotLimits(1_048_576)).toEqual({ max: 1024, perProcess: 128 });
    expect(slotLimits(null)).toEqual({ max: 1024, perProcess: 128 });
    expect(slotLimits(1024)).toEqual({ max: 960, perProcess: 120 });
    expect(slotLimits(128)).toEqual({ max: 64, perProcess: 8 });
    expect(slotLimits(20)).toEqual({ max: 16, perProcess: 8 });
  });
});

describe("ConnectionSlots", () => {
  test("at the cap, the connection idle longest is closed to admit a new one", () => {
    const slots = new ConnectionSlots<FakeConnection>({ max: 4, perProcess: 4 });
    const [a, b, c, d] = [...fill(slots, 1, 1), ...fill(slots, 2, 1), ...fill(slots, 3, 1), ...fill(slots, 4, 1)];
    a!.busy = true;
    // b became idle again after a request: it moves behind c and d.
    slots.becameIdle(b!);
    expect(slots.admit(5)).toEqual({ admit: true, evict: c });
    slots.remove(c!);
    fill(slots, 5, 1);
    expect(slots.admit(6)).toEqual({ admit: true, evict: d });
    slots.remove(d!);
    fill(slots, 6, 1);
    expect(slots.admit(7)).toEqual({ admit: true, evict: b });
  });

  test("at the cap with every connection busy, a new one is refused with the reason", () => {
    const slots = new ConnectionSlots<FakeConnection>({ max: 3, perProcess: 3 });
    fill(slots, 1, 3, true);
    const admission = slots.admit(2);
    expect(admission.admit).toBe(false);
    if (!admission.admit) expect(admission.reason).toContain("all 3 of the agent's connections are busy");
  });

  test("a process at its share is refused a new connection, idle or busy, while others are admitted", () => {
    const slots = new ConnectionSlots<FakeConnection>({ max: 100, perProcess: 2 });
    fill(slots, 9, 2);
    const admission = slots.admit(9);
    expect(admission.admit).toBe(false);
    if (!admission.admit) expect(admission.reason).toContain("process 9 already holds 2 of the agent's connections");
    expect(slots.admit(10)).toEqual({ admit: true });
  });

  test("at the cap, a newcomer within its share closes another process's idle connection", () => {
    const slots = new ConnectionSlots<FakeConnection>({ max: 3, perProcess: 2 });
    const [x] = fill(slots, 1, 1);
    const [y] = fill(slots, 2, 2);
    expect(slots.admit(3)).toEqual({ admit: true, evict: x });
    x!.busy = true;
    expect(slots.admit(3)).toEqual({ admit: true, evict: y });
  });

  test("connections of unknown peers (named pipes) have no share, only the cap", () => {
    const slots = new ConnectionSlots<FakeConnection>({ max: 3, perProcess: 1 });
    const [n1] = fill(slots, null, 3);
    expect(slots.admit(null)).toEqual({ admit: true, evict: n1 });
  });

  test("removed connections free their slot and their process's share", () => {
    const slots = new ConnectionSlots<FakeConnection>({ max: 2, perProcess: 1 });
    const [a] = fill(slots, 1, 1, true);
    expect(slots.admit(1).admit).toBe(false);
    expect(slots.holders(5)).toEqual([{ pid: 1, connections: 1 }]);
    slots.remove(a!);
    slots.remove(a!);
    expect(slots.size).toBe(0);
    expect(slots.admit(1)).toEqual({ admit: true });
    expect(slots.holders(5)).toEqual([]);
  });
});
