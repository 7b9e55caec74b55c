import { afterAll, beforeAll, expect, test } from "bun:test";
import { existsSync, rmSync } from "node:fs";
import { join } from "node:path";
import { startGitServer, type GitServer } from "../support/git-server.ts";
import { BIN, countingSource, Sandbox } from "./harness.ts";

// Debian's git asks credagent for its password through the credential-helper protocol, against a
// git smart-HTTP server on 127.0.0.1 that accepts only the agent's current token.

let box: Sandbox;
let server: GitServer;
let counter: ReturnType<typeof countingSource>;

beforeAll(async () => {
  box = new Sandbox();
  counter = countingSource(box, "repo", 3600);
  const other = countingSource(box, "anon", 3600);
  server = startGitServer(() => ({ username: "ci-bot", password: `repo-${counter.count()}` }));
  const origin = new URL(server.url).origin;
  box.writeConfig(
    `[credentials.repo]\nsource = "command"\ncommand = ["${counter.script}"]\nusername = "ci-bot"\n\n[credentials.anon]\nsource = "command"\ncommand = ["${other.script}"]\n\n` +
      `[git]\n"${origin}/" = "repo"\n"https://elsewhere.example.com" = "anon"\n`,
  );
  await box.start();
}, 30_000);
afterAll(async () => {
  server?.stop();
  await box?.cleanup();
});

async function git(args: string[], helper: string) {
  const proc = Bun.spawn(["git", "-c", `credential.helper=`, "-c", `credential.helper=!${BIN} git-credential ${helper}`, ...args], {
    // No terminal prompt and no user or system config: only the helper can answer.
    env: { ...box.env, CRED_SOCK: box.socket, GIT_TERMINAL_PROMPT: "0", GIT_CONFIG_NOSYSTEM: "1", GIT_ASKPASS: "/bin/false" },
    cwd: box.root,
    stdout: "pipe",
    stderr: "pipe",
  });
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { stdout, stderr, code };
}

async function helper(args: string[], input: string) {
  const proc = Bun.spawn([BIN, "git-credential", ...args], {
    env: { ...box.env, CRED_SOCK: box.socket },
    stdin: new Blob([input]),
    stdout: "pipe",
    stderr: "pipe",
  });
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { stdout, stderr, code };
}

test("git ls-remote and clone authenticate with the agent's token, and with the new one after a refresh", async () => {
  const first = await git(["ls-remote", server.url], "--credential repo");
  expect(first.stderr).toBe("");
  expect(first.code).toBe(0);
  expect(first.stdout).toContain("refs/heads/main");
  const used = counter.count();

  // The server now wants the next token: git gets it from the helper after `credagent refresh`.
  expect((await box.run(["refresh", "repo"])).code).toBe(0);
  expect(counter.count()).toBe(used + 1);
  const clone = await git(["clone", "-q", server.url, "clone"], "--credential repo");
  expect(clone.stderr).toBe("");
  expect(clone.code).toBe(0);
  expect(existsSync(join(box.root, "clone", ".git"))).toBe(true);
  rmSync(join(box.root, "clone"), { recursive: true, force: true });
  expect(server.attempts.filter((a) => a.ok).every((a) => a.username === "ci-bot")).toBe(true);
});

test("the helper's answer: the credential's user name, the token, its expiry; git's own user name when the credential has none", async () => {
  const get = await helper(["--credential", "repo", "get"], "protocol=https\nhost=git.example.com\nusername=someone\n\n");
  expect(get.code).toBe(0);
  const lines = get.stdout.trimEnd().split("\n");
  expect(lines[0]).toBe("username=ci-bot");
  expect(lines[1]).toBe(`password=repo-${counter.count()}`);
  const expiry = Number(lines[2]!.replace("password_expiry_utc=", ""));
  expect(Math.abs(expiry - (Date.now() / 1000 + 3600))).toBeLessThan(120);

  expect((await helper(["--credential", "anon", "get"], "protocol=https\nhost=h\nusername=someone\n\n")).stdout).toStartWith(
    "username=someone\n",
  );
  expect((await helper(["--credential", "anon", "get"], "protocol=https\nhost=h\n\n")).stdout).toStartWith("username=x-access-token\n");
  // store and erase change nothing and print nothing.
  for (const op of ["store", "erase"]) {
    const r = await helper(["--credential", "repo", op], "protocol=https\nhost=h\nusername=u\npassword=p\n\n");
    expect(r).toEqual({ code: 0, stdout: "", stderr: "" });
  }
});

test("errors: an unknown credential makes git fail with the agent's message on stderr; usage errors exit 2", async () => {
  const unknown = await git(["ls-remote", server.url], "--credential nope");
  expect(unknown.code).not.toBe(0);
  expect(unknown.stderr).toContain("no credential named 'nope'");
  const noOp = await helper(["--credential", "repo"], "");
  expect(noOp.code).toBe(2);
  expect(noOp.stderr).toContain("expected one operation");
});

test("without --credential, the config's [git] table picks the credential; a host not in it gets no answer", async () => {
  const mapped = await git(["ls-remote", server.url], "");
  expect(mapped.stderr).toBe("");
  expect(mapped.code).toBe(0);
  const { host } = new URL(server.url);
  expect((await helper(["get"], `protocol=http\nhost=${host}\n\n`)).stdout).toStartWith("username=ci-bot\npassword=repo-");
  expect(await helper(["get"], "protocol=https\nhost=unmapped.example.com\n\n")).toEqual({ code: 0, stdout: "", stderr: "" });
  // A https request for the http prefix's host is not the same URL: no answer either.
  expect((await helper(["get"], `protocol=https\nhost=${host}\n\n`)).stdout).toBe("");
});
