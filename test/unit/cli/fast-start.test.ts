import { describe, expect, test } from "bun:test";
import { resolve } from "node:path";
import { storeStaysLocked } from "../../../src/cli/commands/lock.ts";
import * as fast from "../../../src/cli/fast-start.ts";
import * as shell from "../../../src/cli/output/shell.ts";
import { PLATFORMS } from "../../../src/native/unix-exchange.ts";
import { capabilitiesOf } from "../../../src/platform/os.ts";

const health = (extra: Record<string, unknown> = {}) => ({
  status: 200,
  body: JSON.stringify({ status: "ok", version: "1", pid: 4242, socket: "/run/user/1000/cred.sock", locked: false, ...extra }),
});
const noTerminal = async () => false;
const terminal = async () => true;
const env = { SHELL: "/bin/bash" };

describe("start's short path", () => {
  test("the forms it answers: at most one dialect flag and one socket; anything else is the full command's", () => {
    expect(fast.parseStartArgs([])).toEqual({});
    expect(fast.parseStartArgs(["-s"])).toEqual({ dialect: "sh" });
    expect(fast.parseStartArgs(["--csh"])).toEqual({ dialect: "csh" });
    expect(fast.parseStartArgs(["--fish"])).toEqual({ dialect: "fish" });
    expect(fast.parseStartArgs(["--powershell"])).toEqual({ dialect: "powershell" });
    expect(fast.parseStartArgs(["-c", "-a", "/x.sock"])).toEqual({ dialect: "csh", socket: "/x.sock" });
    expect(fast.parseStartArgs(["--socket=/x.sock", "-s"])).toEqual({ dialect: "sh", socket: "/x.sock" });
    expect(fast.parseStartArgs(["--socket", "/x.sock"])).toEqual({ socket: "/x.sock" });
    for (const args of [
      ["-s", "-c"], // a usage error
      ["-s", "-s"],
      ["-a"],
      ["-a", ""],
      ["-a", "-s"],
      ["-a", "/x", "-a", "/y"],
      ["-a/x.sock"],
      ["-t", "8h"],
      ["--config", "/c.toml"],
      ["--keyring", "file"],
      ["--help"],
      ["-h"],
      ["extra"],
      ["--"],
    ])
      expect(fast.parseStartArgs(args)).toBeNull();
  });

  test("its copies of the shell code and the locked-store message are the full command's, byte for byte", () => {
    const values = [
      "/run/user/1000/cred.sock",
      "4242",
      "/tmp/a b'; touch /tmp/pwned; '/cred.sock",
      "it's",
      'a"b$c`d\\e',
      "é ü",
      "",
      "x\ny",
    ];
    for (const dialect of ["sh", "csh", "fish", "powershell"] as const)
      for (const value of values) {
        const vars: Array<[string, string]> = [
          ["CRED_SOCK", value],
          ["CRED_AGENT_PID", "4242"],
        ];
        expect(fast.exportCode(dialect, vars, `Agent pid ${value}`)).toBe(shell.exportCode(dialect, vars, `Agent pid ${value}`));
      }
    const shells = [undefined, "", "/bin/bash", "/usr/bin/zsh", "/bin/tcsh", "/bin/csh", "/usr/bin/fish", "pwsh", "PowerShell.exe"];
    for (const s of [...shells, "C:\\Program Files\\PowerShell\\7\\pwsh.exe", "/opt/fish/bin/fish"])
      for (const fallback of ["sh", "powershell"] as const)
        expect(fast.dialectFromShell(s, fallback)).toBe(shell.dialectFromShell(s, fallback));
    // The short path runs only where the blocking exchange does (Unix), whose default shell is sh.
    for (const os of Object.keys(PLATFORMS)) expect(capabilitiesOf(os as NodeJS.Platform).defaultShell).toBe("sh");
    for (const needing of [undefined, [], ["db"], ["db", "api"]]) expect(fast.storeStaysLocked(needing)).toBe(storeStaysLocked(needing));
  });

  test("an explicit config is compared only when it is what path.resolve leaves as it is", () => {
    for (const p of ["/", "/a", "/a/b.toml", "/a/.b", "/a..b/c"]) {
      expect(fast.isNormalAbsolute(p)).toBe(true);
      expect(resolve(p)).toBe(p);
    }
    for (const p of ["a.toml", "./a", "/a/", "/a//b", "/a/./b", "/a/../b", "/a/.", "/a/.."]) {
      expect(fast.isNormalAbsolute(p)).toBe(false);
      expect(resolve(p)).not.toBe(p);
    }
  });

  test("a healthy agent: the exports in the flag's dialect, else $SHELL's", async () => {
    expect(await fast.shellCodeFor(health(), undefined, env, noTerminal)).toEqual({
      stdout: shell.exportCode(
        "sh",
        [
          ["CRED_SOCK", "/run/user/1000/cred.sock"],
          ["CRED_AGENT_PID", "4242"],
        ],
        "Agent pid 4242",
      ),
    });
    expect((await fast.shellCodeFor(health(), "fish", env, noTerminal))?.stdout).toStartWith(
      "set -x CRED_SOCK /run/user/1000/cred.sock;\n",
    );
    expect((await fast.shellCodeFor(health(), undefined, { SHELL: "/bin/tcsh" }, noTerminal))?.stdout).toStartWith("setenv CRED_SOCK");
  });

  test("what the full command decides: another status, an odd body, another config, a store to unlock on a terminal", async () => {
    expect(await fast.shellCodeFor(null, undefined, env, noTerminal)).toBeNull();
    expect(await fast.shellCodeFor({ status: 403, body: '{"error":{}}' }, undefined, env, noTerminal)).toBeNull();
    expect(await fast.shellCodeFor({ status: 503, body: "{}" }, undefined, env, noTerminal)).toBeNull();
    for (const body of [
      "not json",
      "null",
      "[]",
      '{"status":"ok","pid":"1","socket":"/s"}',
      '{"status":"ok","pid":1}',
      '{"pid":1,"socket":"/s"}',
    ])
      expect(await fast.shellCodeFor({ status: 200, body }, undefined, env, noTerminal)).toBeNull();

    const config = { config: { path: "/home/u/.config/credagent/config.toml" } };
    expect(await fast.shellCodeFor(health(config), undefined, { CREDAGENT_CONFIG: "/other.toml" }, noTerminal)).toBeNull();
    expect(await fast.shellCodeFor(health(config), undefined, { CREDAGENT_CONFIG: config.config.path }, noTerminal)).not.toBeNull();
    // Not explicit: whatever the agent runs with is fine, as in the full command.
    expect(await fast.shellCodeFor(health(config), undefined, {}, noTerminal)).not.toBeNull();

    const store = { store: { state: "locked", description: "waiting" } };
    expect(await fast.shellCodeFor(health(store), undefined, env, terminal)).toBeNull();
    expect(await fast.shellCodeFor(health(store), undefined, env, async () => null)).toBeNull();
    const told = await fast.shellCodeFor(health(store), undefined, env, noTerminal);
    expect(told?.stderr).toBe(storeStaysLocked(undefined));
    expect(told?.stdout).toContain("CRED_AGENT_PID=4242");
    // Naming what needs it; nothing said (even on a terminal) when nothing does.
    const needed = { store: { state: "locked", description: "waiting", needed_by: ["db"] } };
    expect((await fast.shellCodeFor(health(needed), undefined, env, noTerminal))?.stderr).toBe(storeStaysLocked(["db"]));
    const unneeded = { store: { state: "locked", description: "waiting", needed_by: [] } };
    expect(await fast.shellCodeFor(health(unneeded), undefined, env, terminal)).toEqual({
      stdout: expect.stringContaining("CRED_AGENT_PID=4242") as unknown as string,
    });
    // An agent on a replaced program file: the full command, which says so.
    expect(await fast.shellCodeFor(health({ binary_replaced: true }), undefined, env, noTerminal)).toBeNull();
    // A locked agent is not asked for the store's passphrase: the full command says nothing either.
    expect(await fast.shellCodeFor(health({ ...store, locked: true }), undefined, env, terminal)).toEqual({
      stdout: expect.stringContaining("CRED_AGENT_PID=4242") as unknown as string,
    });
    expect(await fast.shellCodeFor(health({ store: { state: "open" } }), undefined, env, terminal)).not.toBeNull();
  });

  test("no socket from the environment, a named pipe or a config path to resolve: the full command, before any request", async () => {
    expect(await fast.fastStart([], {}, noTerminal)).toBeNull();
    expect(await fast.fastStart([], { XDG_RUNTIME_DIR: "relative" }, noTerminal)).toBeNull();
    expect(await fast.fastStart([], { CRED_SOCK: "\\\\.\\pipe\\credagent-u" }, noTerminal)).toBeNull();
    expect(await fast.fastStart([], { CRED_SOCK: "/nonexistent/cred.sock", CREDAGENT_CONFIG: "rel.toml" }, noTerminal)).toBeNull();
  });

  test("no agent: started here when no socket file is there; a file that does not answer is the full command's", async () => {
    const cold: Array<[string, string | undefined]> = [];
    const startCold = async (socket: string, dialect: string | undefined) => (cold.push([socket, dialect]), 0);
    expect(await fast.fastStart(["-c"], { CRED_SOCK: "/nonexistent/cred.sock" }, noTerminal, startCold)).toBe(0);
    expect(cold).toEqual([["/nonexistent/cred.sock", "csh"]]);
    // Something at the path that is not an answering agent (a crashed agent's socket, here a file).
    expect(await fast.fastStart(["-s"], { CRED_SOCK: import.meta.path }, noTerminal)).toBeNull();
    expect(cold).toHaveLength(1);
  });
});
