import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { constants } from "node:os";
import { join } from "node:path";
import { countingSource, Sandbox } from "./harness.ts";

let box: Sandbox;
let db: ReturnType<typeof countingSource>;

beforeAll(async () => {
  box = new Sandbox();
  db = countingSource(box, "db", 3600);
  box.writeConfig(`[credentials.db]\nsource = "command"\ncommand = ["${db.script}"]\n`);
  box.env.CRED_SOCK = box.socket;
  await box.start();
});
afterAll(() => box.cleanup());

describe("exec: exit statuses as a shell gives them", () => {
  test("a program not in PATH: 127 and the shell's message", async () => {
    const r = await box.run(["exec", "--env", "T=db", "--", "credagent-no-such-program"]);
    expect(r).toEqual({ code: 127, stdout: "", stderr: "credagent exec: credagent-no-such-program: command not found\n" });
    const path = join(box.root, "absent");
    const byPath = await box.run(["exec", "--env", "T=db", "--", path]);
    expect(byPath).toEqual({ code: 127, stdout: "", stderr: `credagent exec: ${path}: No such file or directory\n` });
  });

  test("a file that is not executable: 126 and Permission denied", async () => {
    const path = join(box.root, "not-executable.sh");
    writeFileSync(path, "#!/bin/sh\necho ran\n", { mode: 0o644 });
    const r = await box.run(["exec", "--env", "T=db", "--", path]);
    expect(r).toEqual({ code: 126, stdout: "", stderr: `credagent exec: ${path}: Permission denied\n` });
  });

  test("death by any signal gives 128+N", async () => {
    const suicide = box.script("suicide.sh", 'kill -s "$1" $$; sleep 5');
    for (const signal of ["KILL", "USR1", "USR2", "ALRM", "TERM"] as const) {
      const r = await box.run(["exec", "--env", "T=db", "--", suicide, signal]);
      expect({ signal, code: r.code }).toEqual({ signal, code: 128 + constants.signals[`SIG${signal}`] });
    }
  });

  test("--min-valid is accepted and reaches the agent", async () => {
    const before = db.count();
    const ok = await box.run(["exec", "--min-valid", "10m", "--env", "T=db", "--", "sh", "-c", 'printf %s "$T"']);
    expect(ok).toEqual({ code: 0, stdout: `db-${Math.max(before, 1)}`, stderr: "" });
    // The token lives an hour: asking for two proves the duration went to the agent.
    const long = await box.run(["exec", "--min-valid", "2h", "--env", "T=db", "--", "echo", "ran"]);
    expect(long.code).toBe(1);
    expect(long.stdout).toBe("");
    expect(long.stderr).toContain("less than the 2h00m asked for");
    expect((await box.run(["exec", "--min-valid", "soon", "--env", "T=db", "--", "true"])).code).toBe(2);
  });

  test("a missing -- is named with the usage line; --help matches what is accepted", async () => {
    const r = await box.run(["exec", "--env", "T=db", "psql", "-h", "db.example.com"]);
    expect(r.code).toBe(2);
    expect(r.stderr.split("\n")[0]).toBe(
      "credagent exec: missing -- before the command to run: credagent exec [--env VAR=NAME]... [--env-file FILE]... [--sdk] [--min-valid DUR] -- CMD [ARGS...]",
    );
    const help = await box.run(["exec", "--help"]);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain("--min-valid DUR");
    expect(help.stdout).not.toContain("--min-valid-seconds");
  });
});
