import { describe, expect, test } from "bun:test";
import { assertSocketPathLength, clientSocketPath, configPath, defaultSocketPath, stateDir, windowsPipeName, type PathEnv } from "../../src/paths.ts";

const linux = (env: Record<string, string>): PathEnv => ({ env, platform: "linux", uid: 1000, home: "/home/u", username: "u" });

describe("paths", () => {
  test("socket: XDG_RUNTIME_DIR, else a private dir under TMPDIR or /tmp", () => {
    expect(defaultSocketPath(linux({ XDG_RUNTIME_DIR: "/run/user/1000" }))).toBe("/run/user/1000/cred.sock");
    expect(defaultSocketPath(linux({ TMPDIR: "/var/tmp" }))).toBe("/var/tmp/credagent-1000/cred.sock");
    expect(defaultSocketPath(linux({}))).toBe("/tmp/credagent-1000/cred.sock");
    expect(defaultSocketPath(linux({ XDG_RUNTIME_DIR: "relative" }))).toBe("/tmp/credagent-1000/cred.sock");
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
