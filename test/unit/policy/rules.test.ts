import { describe, expect, test } from "bun:test";
import { authorize, type PeerFacts } from "../../../src/policy/rules.ts";
import { sameProcess } from "../../../src/identity/process-info.ts";

const peer = (over: Partial<PeerFacts> = {}): PeerFacts => ({
  pid: 42,
  uid: 1000,
  exe: "/usr/bin/curl",
  sha256: async () => "ab".repeat(32),
  stillSameProcess: () => true,
  ...over,
});

describe("allow rules", () => {
  test("no rules: anyone of the user", async () => {
    expect((await authorize(undefined, peer())).allowed).toBe(true);
    expect((await authorize([], null)).allowed).toBe(true);
  });

  test("exe, sha256 and uid must all match within a rule; any rule may match", async () => {
    expect(await authorize([{ exe: "/usr/bin/psql" }, { exe: "/usr/bin/curl" }], peer())).toEqual({
      allowed: true,
      reason: 'rule 2 { exe = "/usr/bin/curl" } matched',
    });
    const denied = await authorize([{ exe: "/usr/bin/curl", sha256: "cd".repeat(32) }, { uid: 0 }], peer());
    expect(denied.allowed).toBe(false);
    expect(denied.reason).toContain("rule 1");
    expect(denied.reason).toContain(`sha256 is ${"ab".repeat(32)}`);
    expect(denied.reason).toContain("rule 2 { uid = 0 }: uid is 1000");
    expect((await authorize([{ exe: "/usr/bin/curl", sha256: "AB".repeat(32) }], peer())).allowed).toBe(true);
  });

  test("the hash is computed only when a rule asks for it", async () => {
    let hashed = 0;
    const p = peer({ sha256: async () => (hashed++, "x") });
    await authorize([{ exe: "/usr/bin/curl" }], p);
    expect(hashed).toBe(0);
    await authorize([{ sha256: "y" }], p);
    expect(hashed).toBe(1);
  });

  test("a reused pid or an unidentifiable peer is refused when rules exist", async () => {
    expect((await authorize([{ exe: "/usr/bin/curl" }], peer({ stillSameProcess: () => false }))).reason).toContain("pid reused");
    expect((await authorize([{ uid: 1000 }], null)).allowed).toBe(false);
  });
});

describe("pid reuse", () => {
  test("sameProcess compares the start time recorded at accept with the current one", () => {
    expect(sameProcess({ pid: 7, startTime: 100 }, () => 100)).toBe(true);
    expect(sameProcess({ pid: 7, startTime: 100 }, () => 250)).toBe(false);
    expect(sameProcess({ pid: 7, startTime: 100 }, () => null)).toBe(false);
    expect(sameProcess({ pid: 7, startTime: null }, () => null)).toBe(false);
  });

  test("on Linux the start time of this very process is stable and readable", async () => {
    const { readProcessInfo, startTimeOf, executableSha256 } = await import("../../../src/identity/process-info.ts");
    const info = readProcessInfo(process.pid);
    expect(info.exe).toBe(process.execPath);
    expect(info.startTime).toBe(startTimeOf(process.pid));
    expect(sameProcess(info)).toBe(true);
    expect(await executableSha256(process.pid)).toMatch(/^[0-9a-f]{64}$/);
  });
});
