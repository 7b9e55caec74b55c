import { expect, test } from "bun:test";
import type { Actor } from "../../../src/identity/actor.ts";
import { startTimeOf, type ProcReader } from "../../../src/identity/process-info.ts";
import type { AuditLog } from "../../../src/log/audit.ts";
import { createLogger } from "../../../src/log/log.ts";
import { createAccessControl } from "../../../src/policy/access.ts";
import { ConfirmationBroker } from "../../../src/policy/confirm.ts";

// An allow rule naming a program holds for the program the process runs when the agent decides,
// not only the one it ran when it connected (issue 21, item 8: exec'ing the allowed binary after
// the connection was taken).

function control(exeNow: () => string) {
  const proc: ProcReader = { stat: () => null, exe: () => exeNow(), exeFile: () => "1:1", uid: () => 1000 };
  return createAccessControl({
    accessOf: () => ({ allow: [{ exe: "/usr/bin/psql" }], confirm: false }),
    audit: { record: () => {} } as unknown as AuditLog,
    confirmations: new ConfirmationBroker({ timeoutMs: 1_000, log: createLogger(() => {}, "error"), desktopPrompt: async () => null }),
    proc,
    own: { file: "9:9", path: "/usr/local/bin/credagent" },
  });
}

// This test process stands in for the peer (its start time is real, so the pid-reuse check passes).
const actor = (exe: string): Actor => ({
  transport: "unix",
  uid: 1000,
  peer: { pid: process.pid, uid: 1000, gid: 1000 },
  process: { exe, startTime: startTimeOf(process.pid) },
});

test("the program seen at the connection and at the decision is the allowed one: allowed", async () => {
  expect((await control(() => "/usr/bin/psql").authorize("db", "fetch", actor("/usr/bin/psql"))).allowed).toBe(true);
});

test("a process that ran another program after connecting is refused, and says so", async () => {
  // Connected as psql; by the decision it exec'd python3 (the reverse of the attack is the same check).
  const decision = await control(() => "/usr/bin/python3").authorize("db", "fetch", actor("/usr/bin/psql"));
  expect(decision.allowed).toBe(false);
  expect(decision.reason).toContain("ran another program before the decision");
});
