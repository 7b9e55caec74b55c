import { describe, expect, test } from "bun:test";
import { Admission, type Held } from "../../../src/admission/admission.ts";
import type { Refusal } from "../../../src/admission/refusals.ts";
import type { Actor } from "../../../src/identity/actor.ts";
import { lookUpProcess, type PeerLookup } from "../../../src/identity/identify.ts";
import { startTimeOf } from "../../../src/identity/process-info.ts";
import { createLogger } from "../../../src/log/log.ts";
import type { AuditLog } from "../../../src/log/audit.ts";
import { createAccessControl } from "../../../src/policy/access.ts";
import { ConfirmationBroker } from "../../../src/policy/confirm.ts";
import { FakeStream } from "../../support/fake-stream.ts";

const log = createLogger(() => {}, "error");

class Conn implements Held {
  constructor(readonly actor: Actor) {}
  idle = () => true;
  evicted = false;
  evict(): void {
    this.evicted = true;
  }
}

function admissionWith(peer: PeerLookup, options: { platform?: NodeJS.Platform; exe?: string } = {}) {
  const refusals: Refusal[] = [];
  const admission = new Admission({
    agentUid: 501,
    denyRoot: false,
    limits: { max: 16 },
    log,
    onRefused: (r) => refusals.push(r),
    lookUpPeer: () => peer,
    // A macOS process table: what proc_pidpath and proc_pidinfo would say about the peer.
    lookUpProcess: (actor) =>
      lookUpProcess(actor, options.platform ?? "darwin", (pid) => ({
        pid,
        exe: options.exe ?? "/usr/bin/psql",
        startTime: startTimeOf(pid),
      })),
    alive: () => true,
  });
  return { admission, refusals };
}

describe("one admission step for every front door", () => {
  test("on macOS an exe rule gives the same decision on the API and on a database socket (the doors once disagreed)", async () => {
    // The peer is this test process (so its start time is real), shown as /usr/bin/psql by the fake table.
    const peer: PeerLookup = { ok: true, actor: { transport: "unix", uid: 501, peer: { pid: process.pid, uid: 501, gid: 20 } } };
    const { admission } = admissionWith(peer);
    const api = admission.door("api", { answer: () => new Uint8Array() });
    const db = admission.door("database:app", { answer: () => new Uint8Array(), weight: 2 });
    const onApi = api.admit(new FakeStream(), (a) => new Conn(a))!;
    const onDb = db.admit(new FakeStream(), (a) => new Conn(a))!;
    expect(onApi.actor).toEqual(onDb.actor);
    expect(onApi.actor.process).toEqual({ exe: "/usr/bin/psql", startTime: startTimeOf(process.pid) });

    const access = createAccessControl({
      accessOf: () => ({ allow: [{ exe: "/usr/bin/psql" }], confirm: false }),
      audit: { record: () => {} } as unknown as AuditLog,
      confirmations: new ConfirmationBroker({ timeoutMs: 1_000, log, desktopPrompt: async () => null }),
      proc: { stat: () => null, exe: () => "/usr/bin/psql", exeFile: () => "1:2", uid: () => 501 },
      own: { file: "9:9", path: "/usr/local/bin/credagent" },
    });
    const viaApi = await access.authorize("pg", "fetch", onApi.actor);
    const viaDb = await access.authorize("pg", "fetch", onDb.actor, "app");
    expect(viaApi.allowed).toBe(true);
    expect(viaDb).toEqual(viaApi);
  });

  test("another user is refused at every door, in the door's own words, and told to the audit log once per peer", () => {
    const { admission, refusals } = admissionWith({
      ok: true,
      actor: { transport: "unix", uid: 1001, peer: { pid: 77, uid: 1001, gid: 1001 } },
    });
    const answers: string[] = [];
    const door = admission.door("database:app", { answer: (code, message) => (answers.push(`${code}: ${message}`), new Uint8Array()) });
    for (let i = 0; i < 5; i++) expect(door.admit(new FakeStream(), (a) => new Conn(a))).toBeNull();
    expect(answers).toEqual(Array(5).fill("forbidden: this agent serves only its own user"));
    // The first at once; the other four in one line when the minute is over.
    expect(refusals).toEqual([{ door: "database:app", uid: 1001, pid: 77, reason: "another user's process", count: 1 }]);
    admission.flush();
    expect(refusals[1]).toEqual({ door: "database:app", uid: 1001, pid: 77, reason: "another user's process", count: 4 });
  });

  test("a peer the kernel cannot name is refused with the reason, its uid kept for the audit line", () => {
    const { admission, refusals } = admissionWith({ ok: false, reason: "connections from 127.0.0.2 are refused", uid: 65534 });
    const answers: string[] = [];
    const door = admission.door("sdk-endpoints", { answer: (code, message) => (answers.push(`${code}: ${message}`), new Uint8Array()) });
    expect(door.admit(new FakeStream("tcp"), (a) => new Conn(a))).toBeNull();
    expect(answers[0]).toBe("forbidden: this agent refused the connection: connections from 127.0.0.2 are refused");
    expect(refusals[0]).toMatchObject({ uid: 65534, door: "sdk-endpoints" });
  });

  test("the doors share one pool: a database session weighs two, and at the cap the largest holder gives way", () => {
    let pid = 1;
    const admission = new Admission({
      agentUid: 501,
      denyRoot: false,
      limits: { max: 4 },
      log,
      lookUpPeer: () => ({ ok: true, actor: { transport: "unix", uid: 501, peer: { pid, uid: 501, gid: 20 } } }),
      lookUpProcess: () => null,
      alive: () => true,
    });
    const api = admission.door("api", { answer: () => new Uint8Array() });
    const db = admission.door("database:app", { answer: () => new Uint8Array(), weight: 2 });
    pid = 10;
    const sessions = [db.admit(new FakeStream(), (a) => new Conn(a))!, db.admit(new FakeStream(), (a) => new Conn(a))!];
    expect(admission.slots.used).toBe(4);
    // A new process on the API closes the largest holder's oldest session.
    pid = 20;
    const get = api.admit(new FakeStream(), (a) => new Conn(a));
    expect(get).not.toBeNull();
    expect(sessions.map((s) => s.evicted)).toEqual([true, false]);
    db.release(sessions[0]!);
    expect(admission.slots.used).toBe(3);
  });
});
