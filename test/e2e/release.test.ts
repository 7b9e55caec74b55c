import { afterAll, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { join, resolve } from "node:path";
import { Sandbox } from "./harness.ts";

// A release archive installs with no Node or npm on the machine: scripts/release.sh builds the
// linux-x64 archive (the other four targets are the same script with another --target; building
// them all here would download four runtimes), its install.sh runs with a PATH that has neither,
// and the installed binary works.

const ROOT = resolve(import.meta.dir, "../..");
const work = mkdtempSync("/tmp/ca-release-");
const boxes: Sandbox[] = [];
afterAll(async () => {
  await Promise.all(boxes.map((b) => b.cleanup()));
  rmSync(work, { recursive: true, force: true });
});

test("the linux-x64 archive: contents, checksum, and an install with no Node that runs", async () => {
  const version = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")).version as string;
  const dist = join(work, "dist");
  const build = Bun.spawnSync([join(ROOT, "scripts/release.sh"), "linux-x64"], {
    cwd: ROOT,
    env: { ...process.env, DIST: dist },
    stdout: "pipe",
    stderr: "pipe",
    timeout: 240_000,
  });
  expect(build.stderr.toString()).toBe("");
  expect(build.exitCode).toBe(0);
  const name = `credagent-${version}-linux-x64`;
  const archive = join(dist, `${name}.tar.gz`);
  const sums = readFileSync(join(dist, "SHA256SUMS"), "utf8");
  expect(sums).toContain(`${name}.tar.gz`);
  expect(Bun.spawnSync(["sha256sum", "--check", "--ignore-missing", "SHA256SUMS"], { cwd: dist }).exitCode).toBe(0);

  expect(Bun.spawnSync(["tar", "-xzf", archive, "-C", work]).exitCode).toBe(0);
  const dir = join(work, name);
  for (const file of [
    "bin/credagent",
    "install.sh",
    "README.md",
    "LICENSE",
    "man/credagent.1",
    "man/credagent.toml.5",
    "completions/credagent.bash",
    "completions/credagent.zsh",
    "completions/credagent.fish",
    `clients/credagent-client-${version}.tgz`,
    `clients/credagent-${version}-py3-none-any.whl`,
  ]) {
    expect({ file, present: existsSync(join(dir, file)) }).toEqual({ file, present: true });
  }

  // A PATH with the few tools install.sh uses, and no node or npm.
  const tools = join(work, "tools");
  mkdirSync(tools);
  for (const tool of ["bash", "sh", "dirname", "mkdir", "cp", "chmod", "mv", "ln", "cat", "rm"])
    symlinkSync(Bun.which(tool)!, join(tools, tool));
  const box = new Sandbox();
  boxes.push(box);
  const prefix = join(work, "prefix");
  const env = { ...box.env, PATH: tools, PREFIX: prefix };
  expect(Bun.spawnSync(["bash", "-c", "command -v node || command -v npm"], { env }).exitCode).not.toBe(0);
  const install = Bun.spawnSync([join(dir, "install.sh")], { cwd: work, env, stdout: "pipe", stderr: "pipe", timeout: 60_000 });
  expect(install.stderr.toString()).toBe("");
  expect(install.exitCode).toBe(0);
  const bin = join(prefix, "bin", "credagent");
  expect(install.stdout.toString()).toContain(`Installed ${bin} (credagent ${version})`);
  expect(existsSync(join(prefix, "share/man/man1/credagent.1"))).toBe(true);
  // Bash loads the completion by itself only through the bash-completion package; without it, the line to add.
  const completion = join(prefix, "share/bash-completion/completions/credagent");
  if (existsSync("/usr/share/bash-completion/bash_completion") || existsSync("/etc/bash_completion"))
    expect(install.stdout.toString()).not.toContain("Bash completion:");
  else expect(install.stdout.toString()).toContain(`add this line to ~/.bashrc:\n\n    [ -f ${completion} ] && . ${completion}\n`);

  box.writeConfig(`[credentials.db]\nsource = "command"\ncommand = ["/bin/echo", "from-the-archive"]\n`);
  const run = (args: string[]) => Bun.spawnSync([bin, ...args], { env: { ...env, CRED_SOCK: box.socket }, stdout: "pipe", stderr: "pipe" });
  // install.sh started the agent with the config that was there then: reload picks up this one.
  expect(run(["reload"]).exitCode).toBe(0);
  expect(run(["get", "db"]).stdout.toString()).toBe("from-the-archive\n");

  // install.sh again, an upgrade: the binary is replaced under the running agent, which install.sh
  // restarts on the new one (with the options it ran with) instead of leaving the old code running.
  const before = JSON.parse(run(["status", "--json"]).stdout.toString()).agent.pid as number;
  expect(JSON.parse(run(["status", "--json"]).stdout.toString()).agent.binary_replaced).toBe(false);
  const again = Bun.spawnSync([join(dir, "install.sh")], {
    cwd: work,
    env: { ...env, CRED_SOCK: box.socket },
    stdout: "pipe",
    stderr: "pipe",
    timeout: 60_000,
  });
  expect(again.stderr.toString()).toBe("");
  expect(again.exitCode).toBe(0);
  const after = JSON.parse(run(["status", "--json"]).stdout.toString()).agent;
  expect(again.stdout.toString()).toContain(
    `restarted the agent at ${box.socket}: pid ${before} -> ${after.pid} (it ran the credagent program since replaced)`,
  );
  expect(after.pid).not.toBe(before);
  expect(after.binary_replaced).toBe(false);
  expect(run(["get", "db"]).stdout.toString()).toBe("from-the-archive\n");
  // Nothing to restart the next time.
  const third = Bun.spawnSync([bin, "restart", "--if-outdated"], {
    env: { ...env, CRED_SOCK: box.socket },
    stdout: "pipe",
    stderr: "pipe",
  });
  expect(third.exitCode).toBe(0);
  expect(third.stderr.toString()).toBe("");
  expect(third.stdout.toString()).toContain(`CRED_AGENT_PID=${after.pid};`);
  expect(run(["stop"]).exitCode).toBe(0);
}, 400_000);
