import { afterEach, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { chmodSync, readFileSync, realpathSync, symlinkSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { BIN, countingSource, Sandbox } from "./harness.ts";

// `credagent check`: a config file read as the agent reads it, the programs it names looked up,
// allow rules that can never match found, and a running agent asked which file it runs and when it
// loaded it. Nothing is started, fetched or changed.

const boxes: Sandbox[] = [];
function sandbox(): Sandbox {
  const box = new Sandbox();
  boxes.push(box);
  box.env.CRED_SOCK = box.socket;
  box.env.CREDAGENT_CONFIG = box.configFile;
  return box;
}
afterEach(async () => {
  await Promise.all(boxes.splice(0).map((b) => b.cleanup()));
});

const PYTHON = "/usr/bin/python3";
const sha256 = (path: string) => createHash("sha256").update(readFileSync(path)).digest("hex");

test("a good file: its counts, ok, exit 0; nothing started", async () => {
  const box = sandbox();
  const src = countingSource(box, "db", 3600);
  const onChange = box.script("changed.sh", "true");
  box.writeConfig(
    `[credentials.db]\nsource = "command"\ncommand = ["${src.script}"]\nallow = [{ exe = "${realpathSync(PYTHON)}", sha256 = "${sha256(realpathSync(PYTHON))}" }]\n` +
      `[credentials.pw]\nsource = "static"\n` +
      `[files.netrc]\npath = "~/.netrc"\nformat = "netrc"\ntemplate = "machine h login u password {{ pw }}"\non_change = ["${onChange}"]\n`,
  );
  const r = await box.run(["check"]);
  expect(r.stderr).toBe("");
  expect(r.stdout).toBe(
    `config ${box.configFile}: 2 credential(s), 0 connection(s), 0 database(s), 1 kept file(s)\n` +
      "note: no agent is running ('credagent start' starts one)\nok\n",
  );
  expect(r.code).toBe(0);
  expect(src.count()).toBe(0);
  // No config file at the default path: an agent would run with none; that is not a problem.
  const none = await box.run(["check"], { env: { CREDAGENT_CONFIG: undefined, XDG_CONFIG_HOME: join(box.root, "empty") } });
  expect(none.stdout).toStartWith(
    `config ${join(box.root, "empty", "credagent", "config.toml")}: absent (an agent runs with no credentials)\n`,
  );
  expect(none.code).toBe(0);
  // A file named by --config that is not there is (start would refuse it).
  const missing = await box.run(["check", "--config", join(box.root, "nope.toml")]);
  expect(missing.stdout).toContain(`problem: cannot read the config file ${join(box.root, "nope.toml")}: ENOENT\n`);
  expect(missing.code).toBe(1);
});

test("what the agent would refuse or fail on: the line of a syntax error, programs not there, rules that match nothing", async () => {
  const box = sandbox();
  box.writeConfig("[credentials.db]\nsource = \n");
  const bad = await box.run(["check"]);
  expect(bad.stdout).toContain("not valid TOML at line 2");
  expect(bad.stdout).toEndWith("1 problem(s)\n");
  expect(bad.code).toBe(1);
  const json = JSON.parse((await box.run(["check", "--json"])).stdout);
  expect(json).toMatchObject({ config: box.configFile, exists: true, ok: false, counts: null, agent: null });

  const notExecutable = join(box.root, "plain.sh");
  writeFileSync(notExecutable, "#!/bin/sh\n");
  chmodSync(notExecutable, 0o644);
  const link = join(box.root, "python-link");
  symlinkSync(realpathSync(PYTHON), link);
  box.writeConfig(
    `[credentials.a]\nsource = "command"\ncommand = ["no-such-program-7f3a"]\n` +
      `[credentials.b]\nsource = "command"\ncommand = ["./relative.sh"]\n` +
      `[credentials.c]\nsource = "command"\ncommand = ["${notExecutable}"]\n` +
      `[credentials.d]\nsource = "command"\ncommand = ["sh", "-c", "echo tok"]\n` +
      `allow = [{ exe = "${link}" }, { exe = "${realpathSync(PYTHON)}", sha256 = "${"0".repeat(64)}" }, { exe = "${join(box.root, "gone")}" }, { uid = 0 }]\n`,
  );
  const r = await box.run(["check"]);
  const problems = r.stdout.split("\n").filter((l) => l.startsWith("problem: "));
  expect(problems).toEqual([
    expect.stringMatching(/^problem: credentials\.a: its command 'no-such-program-7f3a' is not on PATH \(.*\); give its full path$/),
    "problem: credentials.b: its command './relative.sh' is a relative path, run from wherever the agent was started; give its full path",
    `problem: credentials.c: its command '${notExecutable}' is not executable (chmod +x)`,
    `problem: credentials.d: allow rule 1 (exe = "${link}"): that is a link to ${realpathSync(PYTHON)}, and the kernel names a process by its real path: write exe = "${realpathSync(PYTHON)}"`,
    `problem: credentials.d: allow rule 2 (exe = "${realpathSync(PYTHON)}"): its sha256 is now ${sha256(realpathSync(PYTHON))}, not the rule's ${"0".repeat(64)} (upgraded?); the rule matches nothing until it says so`,
    `problem: credentials.d: allow rule 3 (exe = "${join(box.root, "gone")}"): no such program (ENOENT); the rule matches nothing`,
  ]);
  expect(r.stdout).toEndWith("6 problem(s)\n");
  expect(r.code).toBe(1);
});

test("what check says of a rule is what the agent does: a rule naming a link refuses the program, its real path lets it in", async () => {
  const box = sandbox();
  const src = countingSource(box, "db", 3600);
  const config = (exe: string) => `[credentials.db]\nsource = "command"\ncommand = ["${src.script}"]\nallow = [{ exe = "${exe}" }]\n`;
  // Through Debian's python3, a link to python3.X: the agent sees the program that ran credagent by its real path.
  const viaPython = () =>
    Bun.spawnSync([PYTHON, "-c", `import subprocess,sys; sys.exit(subprocess.run(["${BIN}", "get", "db"]).returncode)`], {
      env: box.env,
      stdout: "pipe",
      stderr: "pipe",
      timeout: 20_000,
    });
  box.writeConfig(config(PYTHON));
  expect((await box.run(["check"])).stdout).toContain("that is a link to");
  await box.start();
  const refused = viaPython();
  expect(refused.stderr.toString()).toContain("no allow rule matched");
  expect(refused.exitCode).toBe(1);

  box.writeConfig(config(realpathSync(PYTHON)));
  expect((await box.run(["check"])).stdout).not.toContain("problem:");
  expect((await box.run(["reload"])).code).toBe(0);
  const allowed = viaPython();
  expect(allowed.stdout.toString()).toBe("db-1\n");
  expect(allowed.exitCode).toBe(0);
});

test("a running agent: the file it runs, a change it has not loaded, a reload that failed, another file", async () => {
  const box = sandbox();
  const src = countingSource(box, "db", 3600);
  const good = `[credentials.db]\nsource = "command"\ncommand = ["${src.script}"]\n`;
  box.writeConfig(good);
  const pid = await box.start();
  const asIs = await box.run(["check"]);
  expect(asIs.stdout).toContain(`note: the running agent (pid ${pid}) runs this file as it is (loaded at `);
  expect(asIs.code).toBe(0);
  expect(JSON.parse((await box.run(["check", "--json"])).stdout).agent).toMatchObject({ pid, config: box.configFile });

  // Changed after the agent loaded it (its time set ahead: a write in the same millisecond would not show).
  const later = () => utimesSync(box.configFile, new Date(Date.now() + 5_000), new Date(Date.now() + 5_000));
  box.writeConfig(`${good}[credentials.pw]\nsource = "static"\n`);
  later();
  const changed = await box.run(["check"]);
  expect(changed.stdout).toContain(`note: the running agent (pid ${pid}) loaded this file at `);
  expect(changed.stdout).toContain("it changed since: 'credagent reload' applies it");
  expect(changed.code).toBe(0);

  // A broken change: the reload fails and the agent keeps the old config; check says both.
  box.writeConfig(`${good}[credentials.pw]\nsource = "nope"\n`);
  later();
  expect((await box.run(["reload"])).code).toBe(1);
  const broken = await box.run(["check"]);
  expect(broken.stdout).toContain("problem: ");
  expect(broken.stdout).toContain("it changed since: fix it, then 'credagent reload' applies it");
  expect(broken.stdout).toContain("note: its last reload failed at ");
  expect(broken.code).toBe(1);

  // Another file than the agent's.
  const other = join(box.root, "other.toml");
  writeFileSync(other, good);
  const elsewhere = await box.run(["check", "--config", other]);
  expect(elsewhere.stdout).toContain(`note: the running agent (pid ${pid}) reads ${box.configFile}, not this file`);
  expect(elsewhere.code).toBe(0);
  expect(src.count()).toBe(0);
});
