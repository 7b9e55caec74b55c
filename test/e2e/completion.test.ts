import { afterAll, beforeAll, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { BIN, Sandbox } from "./harness.ts";

// The completion scripts, run by the real shells: bash completes commands, options and the running
// agent's credential names; zsh and fish accept their scripts (syntax), where installed.

let box: Sandbox;
beforeAll(async () => {
  box = new Sandbox();
  box.writeConfig(
    `[credentials.alpha]\nsource = "command"\ncommand = ["true"]\n\n[credentials.alps]\nsource = "command"\ncommand = ["true"]\n\n[credentials.beta]\nsource = "command"\ncommand = ["true"]\n`,
  );
  await box.start();
});
afterAll(async () => {
  await box?.cleanup();
});

const env = () => ({ ...box.env, CRED_SOCK: box.socket, PATH: `${dirname(BIN)}:${box.env.PATH}` });

function bash(script: string): string {
  const r = Bun.spawnSync(["bash", "--norc", "--noprofile", "-c", script], { env: env(), stdout: "pipe", stderr: "pipe" });
  expect(r.stderr.toString()).toBe("");
  return r.stdout.toString();
}

test("bash: commands, a command's options, and the agent's credential names", () => {
  const complete = (words: string[]) =>
    bash(
      `source <(credagent completion bash)\nCOMP_WORDS=(${words.map((w) => `'${w}'`).join(" ")}); COMP_CWORD=${words.length - 1}; _credagent; printf '%s\\n' "\${COMPREPLY[@]}"`,
    )
      .trim()
      .split("\n")
      .filter(Boolean)
      .sort();
  expect(bash("source <(credagent completion bash)\ncomplete -p credagent")).toBe("complete -F _credagent credagent\n");
  expect(complete(["credagent", "re"])).toEqual(["refresh", "reload", "render", "restart"]);
  expect(complete(["credagent", "get", "--"])).toEqual(["--help", "--json", "--min-valid", "--negotiate"]);
  expect(complete(["credagent", "get", "al"])).toEqual(["alpha", "alps"]);
  expect(complete(["credagent", "kube-credential", "b"])).toEqual(["beta"]);
  // No agent: no names, quickly, and no error on the terminal.
  const started = Date.now();
  const none = bash(
    `export CRED_SOCK=${join(box.root, "absent.sock")}\nsource <(credagent completion bash)\nCOMP_WORDS=(credagent get a); COMP_CWORD=2; _credagent; echo "[\${COMPREPLY[*]}]"`,
  );
  expect(none).toBe("[]\n");
  expect(Date.now() - started).toBeLessThan(5_000);
});

test("zsh and fish accept their scripts; every command is in each", () => {
  for (const [shell, check] of [
    ["zsh", ["zsh", "-n"]],
    ["fish", ["fish", "--no-execute"]],
  ] as const) {
    const script = Bun.spawnSync([BIN, "completion", shell], { env: env(), stdout: "pipe" }).stdout.toString();
    for (const command of ["get", "exec", "git-credential", "service"]) expect(script).toContain(command);
    if (!Bun.which(shell)) {
      if (process.env.CI === "true") throw new Error(`CI=true and ${shell} is missing: test/run.sh installs it`);
      console.warn(`skipping the ${shell} syntax check: ${shell} is not installed`);
      continue;
    }
    const file = join(box.root, `completion.${shell}`);
    writeFileSync(file, script);
    const r = Bun.spawnSync([...check, file], { env: env(), stdout: "pipe", stderr: "pipe" });
    expect(r.stderr.toString()).toBe("");
    expect(r.exitCode).toBe(0);
  }
});

test("usage: an unknown shell is a usage error", () => {
  const r = Bun.spawnSync([BIN, "completion", "tcsh"], { env: env(), stdout: "pipe", stderr: "pipe" });
  expect(r.exitCode).toBe(2);
  expect(r.stderr.toString()).toContain("bash, zsh or fish");
});
