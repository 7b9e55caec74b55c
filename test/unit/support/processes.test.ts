import { expect, test } from "bun:test";
import { belongsToRun, type ProcessFacts } from "../../support/processes.ts";

// The suite's leftover check (test/run.sh) and the Windows tests' waits take only this run's
// processes: another run's, from another clone, on the same machine, are never theirs.
const scope = { runDir: "/tmp/ca-run-AAAAAA", root: "/work/clone-a", envEntry: "CREDAGENT_TEST_RUN_DIR=/tmp/ca-run-AAAAAA" };
const proc = (args: string, environ: string[] | null = []): ProcessFacts => ({ pid: 1234, args, environ });

test("this run's: its marker, a path in its directory, this clone's agent on a test socket, support scripts, Wine build", () => {
  expect(belongsToRun(proc("sleep 100", ["CREDAGENT_TEST_RUN_DIR=/tmp/ca-run-AAAAAA"]), scope)).toBe(true);
  expect(belongsToRun(proc("postgres -D /tmp/ca-run-AAAAAA/ca-pg-1/data"), scope)).toBe(true);
  expect(belongsToRun(proc("C:\\windows\\system32\\services.exe", ["WINEPREFIX=/tmp/ca-run-AAAAAA/ca-wine-x/prefix"]), scope)).toBe(true);
  expect(belongsToRun(proc("/work/clone-a/build/credagent agent -d -a /tmp/ca-xyz/cred.sock", null), scope)).toBe(true);
  expect(belongsToRun(proc("bash /work/clone-a/test/support/secret-service.sh x"), scope)).toBe(true);
  expect(belongsToRun(proc("Z:\\work\\clone-a\\build\\credagent-windows-x64.exe agent -d", null), scope)).toBe(true);
});

test("another run's or nobody's: never matched by a program's name", () => {
  expect(belongsToRun(proc("sleep 100", ["CREDAGENT_TEST_RUN_DIR=/tmp/ca-run-BBBBBB"]), scope)).toBe(false);
  expect(belongsToRun(proc("C:\\windows\\system32\\services.exe", ["WINEPREFIX=/tmp/ca-run-BBBBBB/ca-wine-x/prefix"]), scope)).toBe(false);
  expect(belongsToRun(proc("Z:\\work\\clone-b\\build\\credagent-windows-x64.exe agent -d", null), scope)).toBe(false);
  expect(belongsToRun(proc("/work/clone-b/build/credagent agent -d -a /tmp/ca-xyz/cred.sock", null), scope)).toBe(false);
  expect(belongsToRun(proc("postgres -D /tmp/ca-run-BBBBBB/ca-pg-1/data"), scope)).toBe(false);
  // A developer's own agent from this clone's build, on the default socket, is not a leftover.
  expect(belongsToRun(proc("/work/clone-a/build/credagent agent -d", null), scope)).toBe(false);
  // A prefix of this run's directory's name is another directory.
  expect(belongsToRun(proc("postgres -D /tmp/ca-run-AAAAAAB/data"), scope)).toBe(false);
});
