import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { BIN, Sandbox } from "./harness.ts";

// `credagent start` with an agent already answering takes a short path (src/cli/fast-start.ts):
// one GET /v1/health through blocking libc calls, the shell code printed. It must print exactly
// what the full command prints, and leave to the full command every answer it cannot print as the
// full command would. `--keyring auto` makes the same start take the full command (the short path
// leaves every --keyring to it), which gives each case its reference.

const boxes: Sandbox[] = [];
const peers: Bun.Subprocess[] = [];
afterAll(async () => {
  for (const peer of peers) peer.kill("SIGKILL");
  await Promise.all(peers.map((p) => p.exited));
  for (const box of boxes) await box.cleanup();
});

function sandbox(): Sandbox {
  const box = new Sandbox();
  boxes.push(box);
  return box;
}

const FULL = ["--keyring", "auto"];

/** A stand-in agent at the sandbox's socket (test/support/health-peer.ts) and the request heads it got. */
async function peer(box: Sandbox, mode: string): Promise<() => string[][]> {
  const log = join(box.root, `${mode}.requests`);
  const child = Bun.spawn([process.execPath, join(import.meta.dir, "../support/health-peer.ts"), box.socket, mode, log], {
    stdout: "pipe",
    stderr: "inherit",
  });
  peers.push(child);
  const { value } = await child.stdout.getReader().read();
  expect(new TextDecoder().decode(value)).toContain("ready");
  return () =>
    existsSync(log)
      ? readFileSync(log, "utf8")
          .trim()
          .split("\n")
          .map((l) => JSON.parse(l) as string[])
      : [];
}

const fromFetch = (head: string[]) => head.some((h) => /^user-agent:/i.test(h));

describe("start with an agent running", () => {
  test("prints what the full command prints, in every dialect and form", async () => {
    const box = sandbox();
    const src = box.script("token.sh", `echo '{"access_token":"tok","expires_in":3600}'`);
    box.writeConfig(`[credentials.db]\nsource = "command"\ncommand = ["${src}"]\n`);
    const pid = await box.start();
    const forms: Array<{ args: string[]; env?: Record<string, string | undefined> }> = [
      { args: [] },
      { args: ["-s"] },
      { args: ["-c"] },
      { args: ["--csh"] },
      { args: ["--fish"] },
      { args: ["--powershell"] },
      { args: [], env: { SHELL: "/usr/bin/fish" } },
      { args: [], env: { SHELL: "/bin/tcsh" } },
      { args: [], env: { SHELL: "/usr/bin/pwsh" } },
      { args: [], env: { SHELL: undefined } },
      { args: ["-a", box.socket, "--fish"] },
      { args: [`--socket=${box.socket}`] },
      { args: [], env: { CRED_SOCK: box.socket, XDG_RUNTIME_DIR: undefined } },
      { args: [], env: { CREDAGENT_CONFIG: box.configFile } },
    ];
    for (const { args, env } of forms) {
      const short = await box.run(["start", ...args], { env });
      const full = await box.run(["start", ...args, ...FULL], { env });
      expect({ args, env, ...short }).toEqual({ args, env, ...full });
      expect(short.code).toBe(0);
      expect(short.stdout).toContain(String(pid));
    }
    // Evaluated by a real shell, it points the shell at the agent.
    const shell = Bun.spawnSync(["sh", "-c", `eval "$(${BIN} start)"; echo "$CRED_SOCK $CRED_AGENT_PID"`], { env: box.env });
    expect(shell.stdout.toString()).toBe(`Agent pid ${pid}\n${box.socket} ${pid}\n`);
  }, 60_000);

  test("it is one health request, with no fetch behind it", async () => {
    const box = sandbox();
    const requests = await peer(box, "ok");
    const r = await box.run(["start", "-s"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^CRED_SOCK=\S+; export CRED_SOCK;\nCRED_AGENT_PID=\d+; export CRED_AGENT_PID;\necho 'Agent pid \d+';\n$/);
    expect(requests()).toEqual([["GET /v1/health HTTP/1.1", "Host: localhost", "Connection: close"]]);
  }, 30_000);

  test("an answer it cannot print is left to the full command, which answers as it always has", async () => {
    for (const [mode, expected] of [
      ["notjson", { code: 1, stderr: "sent a response that is not JSON" }],
      ["error", { code: 1, stderr: "the peer is broken" }],
      ["token", { code: 0, stdout: "export CRED_AGENT_PID;" }],
      ["hang", { code: 1, stderr: "did not answer within 2s" }],
    ] as const) {
      const box = sandbox();
      const requests = await peer(box, mode);
      const short = await box.run(["start", "-s"]);
      const first = requests();
      const full = await box.run(["start", "-s", ...FULL]);
      expect({ mode, ...short }).toEqual({ mode, ...full });
      expect(short.code).toBe(expected.code);
      if ("stderr" in expected) expect(short.stderr).toContain(expected.stderr);
      if ("stdout" in expected) expect(short.stdout).toContain(expected.stdout);
      // The short path asked first; then the full command asked again through fetch.
      expect(fromFetch(first[0]!)).toBe(false);
      expect(first.length).toBeGreaterThanOrEqual(2);
      expect(first.slice(1).every(fromFetch)).toBe(true);
    }
  }, 60_000);

  test("an agent requiring its session token, and another config asked for explicitly", async () => {
    const box = sandbox();
    const src = box.script("token.sh", `echo '{"access_token":"tok","expires_in":3600}'`);
    box.writeConfig(`[agent]\nrequire_session_token = true\n\n[credentials.db]\nsource = "command"\ncommand = ["${src}"]\n`);
    const pid = await box.start();
    const short = await box.run(["start", "-s"]);
    expect(short).toEqual(await box.run(["start", "-s", ...FULL]));
    expect(short.stdout).toContain(`CRED_AGENT_PID=${pid};`);
    const other = await box.run(["start", "-s"], { env: { CREDAGENT_CONFIG: join(box.root, "other.toml") } });
    expect(other).toEqual(await box.run(["start", "-s", ...FULL], { env: { CREDAGENT_CONFIG: join(box.root, "other.toml") } }));
    expect(other.code).toBe(1);
    expect(other.stderr).toContain(`with the config ${box.configFile}, not ${join(box.root, "other.toml")}`);
  }, 30_000);

  test("a file store waiting for its passphrase: said without a terminal, asked on one", async () => {
    const box = sandbox();
    box.writeConfig(`keyring = "file"\n\n[credentials.db]\nsource = "static"\n`);
    const pid = await box.start();
    const short = await box.run(["start", "-s"]);
    expect(short).toEqual(await box.run(["start", "-s", ...FULL]));
    expect(short.code).toBe(0);
    expect(short.stderr).toBe(
      "credagent: the agent's encrypted file store stays locked until 'credagent unlock' gives it its passphrase ('db' cannot be served without it)\n",
    );
    expect(short.stdout).toContain(`CRED_AGENT_PID=${pid};`);
    // On a terminal: the full command's prompt (skipped with an empty answer).
    const r = Bun.spawnSync(
      [
        "python3",
        join(import.meta.dir, "../support/pty-run.py"),
        JSON.stringify([["Passphrase of the encrypted file store: ", "\r"]]),
        BIN,
        "start",
        "-s",
      ],
      // pty-run.py gives the program 30 s to finish.
      { env: box.env, timeout: 40_000 },
    );
    const onTerminal = JSON.parse(r.stdout.toString()) as { code: number; output: string };
    expect(onTerminal.code).toBe(0);
    expect(onTerminal.output).toContain("stays locked until 'credagent unlock'");
    expect(onTerminal.output).toContain(`CRED_AGENT_PID=${pid};`);
  }, 60_000);
});
