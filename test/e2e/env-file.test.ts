import { afterAll, beforeAll, expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { countingSource, Sandbox } from "./harness.ts";

// credagent exec --env-file: a dotenv file whose values may be cred:// and conn:// references,
// resolved through the running agent into one program's environment, and nowhere else.

const PYTHON = "/usr/bin/python3";
const PASSWORD = "p@ss w'rd#1";
let box: Sandbox;
let envFile: string;

beforeAll(async () => {
  box = new Sandbox();
  const tok = countingSource(box, "tok", 60);
  writeFileSync(join(box.root, "pw.json"), JSON.stringify({ username: "app", password: PASSWORD, expires_in: 3600 }));
  box.writeConfig(
    `[credentials.tok]\nsource = "command"\ncommand = ["${tok.script}"]\n\n` +
      `[credentials.pw]\nsource = "command"\ncommand = ["cat", "${join(box.root, "pw.json")}"]\n\n` +
      `[connections.db]\ncredential = "pw"\ntemplate = "postgresql://{username}:{password}@127.0.0.1:5432/app"\n`,
  );
  envFile = join(box.root, ".env");
  writeFileSync(
    envFile,
    [
      "# the app's settings",
      "export PLAIN=hello world",
      'QUOTED="a # not a comment"',
      "TOKEN=cred://tok",
      "DB_USER=cred://pw/username",
      "DB_PASSWORD='cred://pw/password'",
      "DATABASE_URL=conn://db   # a comment",
      "LITERAL=\\cred://not-a-reference",
      "",
    ].join("\n"),
  );
  await box.start();
}, 30_000);
afterAll(() => box.cleanup());

const VARIABLES = ["PLAIN", "QUOTED", "TOKEN", "DB_USER", "DB_PASSWORD", "DATABASE_URL", "LITERAL"];
const printEnv = [PYTHON, "-c", `import os, json; print(json.dumps({k: os.environ.get(k) for k in ${JSON.stringify(VARIABLES)}}))`];

test("exec --env-file: each reference kind resolved, literals as they are, an escaped reference literal", async () => {
  const r = await box.run(["exec", "--env-file", envFile, "--", ...printEnv]);
  expect(r.stderr).toBe("");
  expect(r.code).toBe(0);
  expect(JSON.parse(r.stdout)).toEqual({
    PLAIN: "hello world",
    QUOTED: "a # not a comment",
    TOKEN: "tok-1",
    DB_USER: "app",
    DB_PASSWORD: PASSWORD,
    DATABASE_URL: `postgresql://app:${encodeURIComponent(PASSWORD)}@127.0.0.1:5432/app`,
    LITERAL: "cred://not-a-reference",
  });
  // --env still wins over the file.
  const over = await box.run(["exec", "--env-file", envFile, "--env", "TOKEN=pw", "--", ...printEnv]);
  expect(JSON.parse(over.stdout).TOKEN).toBe(PASSWORD);
});

test("a missing reference: a clear error, exit 1, and nothing is run", async () => {
  const bad = join(box.root, "bad.env");
  writeFileSync(bad, "GOOD=cred://tok\nAPI_KEY=cred://nope\n");
  const marker = join(box.root, "ran");
  const r = await box.run(["exec", "--env-file", bad, "--", "touch", marker]);
  expect(r.code).toBe(1);
  expect(r.stderr).toContain(`${bad}: API_KEY: no credential named 'nope' is configured`);
  expect(existsSync(marker)).toBe(false);
  writeFileSync(bad, "A=cred://pw/pasword\n");
  const typo = await box.run(["exec", "--env-file", bad, "--", "touch", marker]);
  expect(typo.code).toBe(2);
  expect(typo.stderr).toContain("'pasword' is not a part of a credential");
  expect(existsSync(marker)).toBe(false);
});

test("--min-valid is honoured for the references", async () => {
  // tok's source issues 60 s tokens: ten minutes cannot be had, and the error says so.
  const r = await box.run(["exec", "--env-file", envFile, "--min-valid", "10m", "--", "true"]);
  expect(r.code).toBe(1);
  expect(r.stderr).toContain("less than the 10m");
});

test("env --env-file prints the assignments only with --reveal; nothing is written to disk", async () => {
  const hidden = await box.run(["env", "--env-file", envFile]);
  expect(hidden.code).toBe(2);
  expect(hidden.stdout).toBe("");
  expect(hidden.stderr).toContain("add --reveal");
  expect(hidden.stderr).not.toContain(PASSWORD);
  const shown = await box.run(["env", "--env-file", envFile, "--reveal", "-s"]);
  expect(shown.code).toBe(0);
  const proc = Bun.spawn(["sh", "-c", `eval "$1" >/dev/null; shift; exec "$@"`, "sh", shown.stdout, ...printEnv], {
    stdout: "pipe",
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin" },
  });
  const evaluated = JSON.parse(await new Response(proc.stdout).text());
  expect(evaluated.DB_PASSWORD).toBe(PASSWORD);
  expect(evaluated.QUOTED).toBe("a # not a comment");

  // No file under the sandbox (state, runtime directory, logs) holds the password: only the source's own input.
  const holders: string[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      const st = statSync(path, { throwIfNoEntry: false });
      if (!st) continue;
      if (st.isDirectory()) walk(path);
      else if (st.isFile() && readIfThere(path)?.includes(PASSWORD)) holders.push(path);
    }
  };
  walk(box.root);
  expect(holders).toEqual([join(box.root, "pw.json")]);
});

/** A file's bytes, or null when it went away since it was listed (a temp file of the agent's). */
function readIfThere(path: string): Buffer | null {
  try {
    return readFileSync(path);
  } catch {
    return null;
  }
}
