import { describe, expect, test } from "bun:test";
import { socketPathCases } from "../support/socket-path-vectors.ts";
import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  assertSocketPathLength,
  clientSocketPath,
  configPath,
  defaultSocketPath,
  isPrivateDirOf,
  pipeLockPath,
  resolveUsername,
  sessionTokenPath,
  stateDir,
  windowsPipeName,
  type PathEnv,
} from "../../src/paths.ts";

const linux = (env: Record<string, string>): PathEnv => ({ env, platform: "linux", uid: 1000, home: "/home/u", username: "u" });

describe("paths", () => {
  test("socket: XDG_RUNTIME_DIR, else a private dir under TMPDIR or /tmp", () => {
    expect(defaultSocketPath(linux({ XDG_RUNTIME_DIR: "/run/user/1000" }))).toBe("/run/user/1000/cred.sock");
    expect(defaultSocketPath(linux({ TMPDIR: "/var/tmp" }))).toBe("/var/tmp/credagent-1000/cred.sock");
    expect(defaultSocketPath(linux({}))).toBe("/tmp/credagent-1000/cred.sock");
    expect(defaultSocketPath(linux({ XDG_RUNTIME_DIR: "relative" }))).toBe("/tmp/credagent-1000/cred.sock");
  });

  test("without XDG_RUNTIME_DIR: /run/user/$UID when it is the user's private directory", () => {
    const asked: string[] = [];
    const withRunUser = (ok: boolean, env: Record<string, string> = {}): PathEnv => ({
      ...linux(env),
      isPrivateDir: (dir) => {
        asked.push(dir);
        return ok;
      },
    });
    expect(defaultSocketPath(withRunUser(true))).toBe("/run/user/1000/cred.sock");
    expect(asked).toEqual(["/run/user/1000"]);
    expect(defaultSocketPath(withRunUser(false, { TMPDIR: "/var/tmp" }))).toBe("/var/tmp/credagent-1000/cred.sock");
    // The variable still wins, and the client finds the same socket as the agent.
    expect(defaultSocketPath(withRunUser(true, { XDG_RUNTIME_DIR: "/xdg" }))).toBe("/xdg/cred.sock");
    expect(clientSocketPath(withRunUser(true))).toBe("/run/user/1000/cred.sock");
    // Not on other platforms, where /run/user is not the session's directory.
    expect(defaultSocketPath({ ...withRunUser(true), platform: "darwin" })).toBe("/tmp/credagent-1000/cred.sock");
  });

  test("a private directory is a real directory of this user with no group or other bits", () => {
    const root = mkdtempSync(join(tmpdir(), "credagent-paths-"));
    try {
      const uid = process.getuid?.() ?? 0;
      const dir = join(root, "run");
      mkdirSync(dir, { mode: 0o700 });
      chmodSync(dir, 0o700);
      expect(isPrivateDirOf(dir, uid)).toBe(true);
      expect(isPrivateDirOf(dir, uid + 1)).toBe(false); // someone else's
      chmodSync(dir, 0o750);
      expect(isPrivateDirOf(dir, uid)).toBe(false); // group can read
      chmodSync(dir, 0o701);
      expect(isPrivateDirOf(dir, uid)).toBe(false); // others can enter
      chmodSync(dir, 0o700);
      symlinkSync(dir, join(root, "link"));
      expect(isPrivateDirOf(join(root, "link"), uid)).toBe(false); // a link, not the directory
      expect(isPrivateDirOf(join(root, "missing"), uid)).toBe(false);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  test("the client prefers CRED_SOCK", () => {
    expect(clientSocketPath(linux({ CRED_SOCK: "/x/s", XDG_RUNTIME_DIR: "/run/user/1000" }))).toBe("/x/s");
  });

  test("Windows: a named pipe per user, safe characters only", () => {
    const win: PathEnv = { env: {}, platform: "win32", uid: -1, home: "C:\\Users\\alice", username: "CORP\\alice" };
    expect(defaultSocketPath(win)).toBe("\\\\.\\pipe\\credagent-CORP-alice");
    expect(windowsPipeName("bob smith")).toBe("\\\\.\\pipe\\credagent-bob-smith");
    expect(configPath({ ...win, env: { APPDATA: "C:\\Users\\alice\\AppData\\Roaming" } }).path).toContain("credagent");
  });

  test("Windows: a pipe's session token and lock file are named after the pipe, in the user's state directory", () => {
    const win: PathEnv = {
      env: { LOCALAPPDATA: "C:\\Users\\alice\\AppData\\Local" },
      platform: "win32",
      uid: -1,
      home: "C:\\Users\\alice",
      username: "alice",
    };
    const pipe = "\\\\.\\pipe\\credagent-alice";
    expect(sessionTokenPath(pipe, win)).toBe("C:\\Users\\alice\\AppData\\Local\\credagent\\credagent-alice.token");
    expect(pipeLockPath(pipe, win)).toBe("C:\\Users\\alice\\AppData\\Local\\credagent\\credagent-alice.lock");
    // Another pipe name, other files: two agents on two pipes do not share a token.
    expect(sessionTokenPath("\\\\.\\pipe\\work", win)).toEndWith("work.token");
    expect(sessionTokenPath("/run/user/1/cred.sock", win)).toBe("/run/user/1/cred.sock.token");
  });

  test("config and state follow XDG", () => {
    expect(configPath(linux({}))).toEqual({ path: "/home/u/.config/credagent/config.toml", explicit: false });
    expect(configPath(linux({ XDG_CONFIG_HOME: "/c" })).path).toBe("/c/credagent/config.toml");
    expect(configPath(linux({ CREDAGENT_CONFIG: "/e.toml" }))).toEqual({ path: "/e.toml", explicit: true });
    expect(configPath(linux({ CREDAGENT_CONFIG: "/e.toml" }), "/f.toml")).toEqual({ path: "/f.toml", explicit: true });
    expect(stateDir(linux({}))).toBe("/home/u/.local/state/credagent");
  });

  test("a socket path too long for sun_path is refused with a fix", () => {
    expect(() => assertSocketPathLength(`/${"a".repeat(106)}`, "linux")).not.toThrow();
    expect(() => assertSocketPathLength(`/${"a".repeat(107)}`, "linux")).toThrow(/shorter/);
    expect(() => assertSocketPathLength(`/${"a".repeat(103)}`, "darwin")).toThrow(/103/);
  });
});

// The table the Node and Python clients' tests read too: all three find the agent in the same place.
describe("shared socket-path vectors (test/fixtures/socket-paths.json)", () => {
  test.each(socketPathCases.map((c) => [c.name, c] as const))("%s", (_, c) => {
    const p: PathEnv = {
      env: c.env,
      platform: c.platform,
      uid: c.uid,
      home: "/home/x",
      username: resolveUsername(c.env, () => c.username),
      isPrivateDir: (dir) => c.private_dirs.includes(dir),
    };
    const socket = clientSocketPath(p);
    expect(socket).toBe(c.socket);
    expect(sessionTokenPath(socket, p)).toBe(c.token_file);
  });
});
