import { describe, expect, test } from "bun:test";
import { createAccessControl, mayAnswerApproval } from "../../../src/policy/access.ts";
import type { AuditLog } from "../../../src/log/audit.ts";
import { ConfirmationBroker } from "../../../src/policy/confirm.ts";
import { createLogger } from "../../../src/log/log.ts";
import type { Actor } from "../../../src/identity/actor.ts";
import { authorize } from "../../../src/policy/rules.ts";
import { approverConflict, attribute, type ProcessFacts } from "../../../src/identity/lineage.ts";
import type { ProcReader } from "../../../src/identity/process-info.ts";
import type { AuditEntry } from "../../../src/wire/audit.ts";

// A fake /proc: each process with its parent, session, terminal, start time, executable path and
// file identity. `onRead` lets a test change the table between reads, as a racing kernel would.
interface FakeProcess {
  ppid: number;
  sid: number;
  tty?: number;
  start: number;
  exe: string;
  file?: string;
  uid?: number;
}
const CREDAGENT = { exe: "/usr/local/bin/credagent", file: "8:1" };
const OWN = { file: CREDAGENT.file, path: CREDAGENT.exe };

function fakeProc(table: Record<number, FakeProcess>, onRead?: (pid: number) => void): ProcReader {
  const get = (pid: number) => {
    onRead?.(pid);
    return table[pid];
  };
  return {
    stat: (pid) => {
      const p = get(pid);
      return p ? { ppid: p.ppid, sid: p.sid, tty: p.tty ?? 0, startTime: p.start } : null;
    },
    exe: (pid) => get(pid)?.exe ?? null,
    exeFile: (pid) => {
      const p = get(pid);
      return p ? (p.file ?? `file:${p.exe}`) : null;
    },
    uid: (pid) => get(pid)?.uid ?? 1000,
  };
}
const facts = (pid: number, p: FakeProcess): ProcessFacts => ({ pid, startTime: p.start, exe: p.exe, uid: 1000, sid: null });

// A script (pid 100) that ran `credagent get` (pid 200).
const tree = (): Record<number, FakeProcess> => ({
  1: { ppid: 0, sid: 1, start: 1, exe: "/sbin/init" },
  50: { ppid: 1, sid: 50, start: 5, exe: "/usr/bin/bash" },
  100: { ppid: 50, sid: 50, start: 10, exe: "/usr/bin/dash", uid: 1001 },
  200: { ppid: 100, sid: 50, start: 20, ...CREDAGENT },
});

describe("attributing a request", () => {
  test("any other client is itself", () => {
    const t = tree();
    expect(attribute(facts(100, t[100]!), OWN, fakeProc(t))).toEqual({
      program: { ...facts(100, t[100]!), sid: 50 },
      via: [],
      unverified: null,
    });
  });

  test("credagent's CLI is attributed to its verified parent, with the CLI as via", () => {
    const t = tree();
    const a = attribute(facts(200, t[200]!), OWN, fakeProc(t));
    expect(a.program).toEqual({ pid: 100, startTime: 10, exe: "/usr/bin/dash", uid: 1001, sid: 50 });
    expect(a.via.map((p) => p.pid)).toEqual([200]);
    expect(a.unverified).toBeNull();
  });

  test("the agent's executable is known by file identity: a renamed copy is credagent, a namesake is not", () => {
    const t = tree();
    t[200] = { ...t[200]!, exe: "/tmp/innocent-name" };
    expect(attribute(facts(200, t[200]!), OWN, fakeProc(t)).program?.pid).toBe(100);
    t[200] = { ...t[200]!, exe: "/usr/bin/other", file: "9:99" };
    expect(attribute(facts(200, t[200]!), OWN, fakeProc(t)).program?.pid).toBe(200);
    // At the agent's path but another file: credagent upgraded under a running agent. Not
    // attributed to credagent (approvals keyed on it would go to every program), nor trusted.
    t[200] = { ...t[200]!, exe: CREDAGENT.exe, file: "9:99" };
    const upgraded = attribute(facts(200, t[200]!), OWN, fakeProc(t));
    expect(upgraded.program).toBeNull();
    expect(upgraded.via.map((p) => p.pid)).toEqual([200]);
    expect(upgraded.unverified).toContain("restart the agent");
  });

  test("the nesting depth is bounded", () => {
    const t = tree();
    for (let pid = 201; pid < 220; pid++) t[pid] = { ppid: pid - 1, sid: 50, start: pid, ...CREDAGENT };
    const a = attribute(facts(219, t[219]!), OWN, fakeProc(t));
    expect(a.program).toBeNull();
    expect(a.unverified).toContain("more than 8 times");
  });

  test("nested CLIs (credagent exec -- credagent get) are walked past", () => {
    const t = tree();
    t[300] = { ppid: 200, sid: 50, start: 30, ...CREDAGENT };
    const a = attribute(facts(300, t[300]!), OWN, fakeProc(t));
    expect(a.program?.pid).toBe(100);
    expect(a.via.map((p) => p.pid)).toEqual([300, 200]);
  });

  test("an orphaned CLI (its caller exited, init adopted it) is attributed to nothing", () => {
    const t = tree();
    t[200] = { ...t[200]!, ppid: 1 };
    const a = attribute(facts(200, t[200]!), OWN, fakeProc(t));
    expect(a.program).toBeNull();
    expect(a.unverified).toContain("has exited");
  });

  test("a parent that started after the CLI is a reused pid", () => {
    const t = tree();
    t[100] = { ...t[100]!, start: 25 };
    expect(attribute(facts(200, t[200]!), OWN, fakeProc(t)).unverified).toContain("started after credagent");
  });

  test("a parent that dies while being read (the CLI is reparented) is not trusted", () => {
    const t = tree();
    let parentReads = 0;
    const proc = fakeProc(t, (pid) => {
      // After the parent's facts are read, it exits and its pid goes to another program.
      if (pid === 100 && ++parentReads === 3) {
        t[200] = { ...t[200]!, ppid: 1 };
        t[100] = { ppid: 1, sid: 100, start: 10, exe: "/usr/bin/evil" };
      }
    });
    const a = attribute(facts(200, t[200]!), OWN, proc);
    expect(a.program).toBeNull();
    expect(a.unverified).toContain("exited while it was being identified");
  });

  test("a CLI that is gone, or a parent that cannot be read, is attributed to nothing", () => {
    const t = tree();
    const gone = { ...t };
    delete gone[200];
    expect(attribute(facts(200, t[200]!), OWN, fakeProc(gone)).unverified).toContain("exited before");
    const unreadable = { ...t };
    delete unreadable[100];
    expect(attribute(facts(200, t[200]!), OWN, fakeProc(unreadable)).unverified).toContain("cannot be read");
  });

  test("an unverified program passes no exe or sha256 rule, and says why", async () => {
    const peer = {
      pid: 200,
      uid: 1000,
      exe: null,
      unverified: "the program that ran credagent (pid 200) has exited",
      sha256: async () => null,
      stillSameProcess: () => true,
    };
    const refused = await authorize([{ exe: "/usr/bin/dash" }], peer);
    expect(refused.allowed).toBe(false);
    expect(refused.reason).toContain("the program that ran credagent is unknown: the program that ran credagent (pid 200) has exited");
    expect((await authorize([{ sha256: "ab".repeat(32) }], peer)).allowed).toBe(false);
    expect((await authorize([{ uid: 1000 }], peer)).allowed).toBe(true);
  });
});

describe("who may approve", () => {
  // The request: dash (100) ran credagent get (200), both in session 50.
  const requesters = (t: Record<number, FakeProcess>) => [facts(100, t[100]!), facts(200, t[200]!)].map((p) => ({ ...p, sid: 50 }));

  test("a shell in another terminal session may", () => {
    const t = tree();
    t[60] = { ppid: 1, sid: 60, tty: 0x8801, start: 6, exe: "/usr/bin/bash" };
    t[400] = { ppid: 60, sid: 60, tty: 0x8801, start: 40, ...CREDAGENT };
    expect(approverConflict(400, requesters(t), fakeProc(t))).toBeNull();
  });

  test("the requester's own session may not", () => {
    const t = tree();
    t[400] = { ppid: 50, sid: 50, tty: 0x8801, start: 40, ...CREDAGENT };
    expect(approverConflict(400, requesters(t), fakeProc(t))).toContain("same session (sid 50)");
  });

  test("a session the requester moved to after asking is checked too", () => {
    const t = tree();
    t[100] = { ...t[100]!, sid: 100 };
    t[400] = { ppid: 1, sid: 100, tty: 0x8801, start: 40, ...CREDAGENT };
    expect(approverConflict(400, requesters(t), fakeProc(t))).toContain("same session (sid 100)");
  });

  test("script(1) started by the requester may not: a new session and a pty, but the requester is an ancestor", () => {
    const t = tree();
    t[300] = { ppid: 100, sid: 50, start: 30, exe: "/usr/bin/script" };
    t[400] = { ppid: 300, sid: 400, tty: 0x8802, start: 40, ...CREDAGENT };
    const refusal = approverConflict(400, requesters(t), fakeProc(t));
    expect(refusal).toContain("was started by /usr/bin/dash (pid 100), which made the request");
  });

  test("an ancestor whose pid was reused by the requester (another start time) is not a match", () => {
    const t = tree();
    t[60] = { ppid: 1, sid: 60, start: 6, exe: "/usr/bin/bash" };
    t[400] = { ppid: 60, sid: 400, tty: 0x8801, start: 40, ...CREDAGENT };
    const reused = [{ pid: 60, startTime: 99, exe: "/usr/bin/dash", uid: 1000, sid: 50 }];
    expect(approverConflict(400, reused, fakeProc(t))).toBeNull();
  });

  test("a looping parent chain ends (bounded walk)", () => {
    const t = tree();
    t[70] = { ppid: 71, sid: 70, start: 7, exe: "/x" };
    t[71] = { ppid: 70, sid: 70, start: 7, exe: "/y" };
    t[400] = { ppid: 70, sid: 400, tty: 1, start: 40, ...CREDAGENT };
    expect(approverConflict(400, requesters(t), fakeProc(t))).toBeNull();
  });

  test("mayAnswerApproval keeps the terminal and not-itself rules before the tree checks", () => {
    const t = tree();
    t[60] = { ppid: 1, sid: 60, start: 6, exe: "/usr/bin/bash" };
    t[400] = { ppid: 60, sid: 60, start: 40, ...CREDAGENT };
    const pending = { requester: { exe: "/usr/bin/dash", pid: 100, via: { exe: CREDAGENT.exe, pid: 200 }, processes: requesters(t) } };
    const conn = (pid: number): Actor => ({ transport: "unix", uid: 1000, peer: { pid, uid: 1000, gid: 1000 }, process: null });
    const proc = fakeProc(t);
    expect(mayAnswerApproval(conn(100), pending, () => 1, proc)).toBe("a process cannot approve its own request");
    expect(mayAnswerApproval(conn(400), pending, () => 0, proc)).toContain("approvals come from a terminal");
    expect(mayAnswerApproval(conn(400), pending, () => 0x8801, proc)).toBeNull();
    expect(mayAnswerApproval(undefined, pending, () => 1, proc)).toContain("cannot be identified");
  });
});

describe("confirm = true through the CLI", () => {
  test("approvals are per attributed program; an unverified one is refused without a prompt; the audit line has via", async () => {
    const t = tree();
    t[101] = { ppid: 50, sid: 50, start: 11, exe: "/usr/bin/python3.11" };
    t[201] = { ppid: 101, sid: 50, start: 21, ...CREDAGENT };
    t[202] = { ppid: 1, sid: 50, start: 22, ...CREDAGENT };
    const questions: string[] = [];
    const confirmations = new ConfirmationBroker({
      timeoutMs: 1_000,
      log: createLogger(() => {}, "error"),
      desktopPrompt: async (question) => (questions.push(question), { approved: true, tool: "test" }),
    });
    const audit: Array<Omit<AuditEntry, "time">> = [];
    const access = createAccessControl({
      accessOf: () => ({ confirm: true }),
      audit: { record: (e: Omit<AuditEntry, "time">) => audit.push(e) } as unknown as AuditLog,
      confirmations,
      proc: fakeProc(t),
      own: OWN,
    });
    const conn = (pid: number): Actor => ({
      transport: "unix",
      uid: 1000,
      peer: { pid, uid: 1000, gid: 1000 },
      process: { exe: t[pid]!.exe, startTime: t[pid]!.start },
    });

    expect((await access.authorize("c", "fetch", conn(200))).allowed).toBe(true);
    expect(questions).toEqual([
      "/usr/bin/dash (pid 100) asks through credagent (pid 200) for the credential 'c'. Allow it for this session?",
    ]);
    // Another program running credagent is asked again: the approval was for dash, not for credagent.
    expect((await access.authorize("c", "fetch", conn(201))).allowed).toBe(true);
    expect(questions.length).toBe(2);
    expect(questions[1]).toStartWith("/usr/bin/python3.11 (pid 101)");
    const orphan = await access.authorize("c", "fetch", conn(202));
    expect(orphan.allowed).toBe(false);
    expect(orphan.reason).toContain("the program that ran credagent cannot be verified");
    expect(questions.length).toBe(2);
    expect(audit.map((e) => [e.decision, e.pid, e.exe, e.via?.pid])).toEqual([
      ["allow", 100, "/usr/bin/dash", 200],
      ["allow", 101, "/usr/bin/python3.11", 201],
      ["deny", null, null, 202],
    ]);
  });
});

describe("the real /proc (Linux)", () => {
  test.if(process.platform === "linux")("this process: parent, session and the agent's own executable by file identity", async () => {
    const { ownExecutable, procStat, systemProcReader } = await import("../../../src/identity/process-info.ts");
    const stat = procStat(process.pid)!;
    expect(stat.ppid).toBe(process.ppid);
    // 0 when the session's leader is outside this pid namespace (a container's init that never called setsid).
    expect(stat.sid).toBeGreaterThanOrEqual(0);
    expect(systemProcReader.exeFile(process.pid)).toBe(ownExecutable().file!);
    expect(systemProcReader.uid(process.pid)).toBe(process.geteuid!());
    // The test runner is not credagent: seen as itself, with its session.
    const self = { pid: process.pid, startTime: stat.startTime, exe: process.execPath, uid: 0, sid: null };
    expect(attribute(self, { file: "0:0", path: "/nowhere" }, systemProcReader).program?.sid).toBe(stat.sid);
  });
});
