import { describe, expect, test } from "bun:test";
import { launchctlCommands } from "../../../src/cli/service/darwin.ts";
import { LAUNCHD_LABEL, LAUNCHD_SOCKET_ENV, LAUNCHD_SOCKET_NAME, launchAgentPlist } from "../../../src/platform/launchd.ts";
import { parseRegQuery, RUN_VALUE, runCommandLine } from "../../../src/platform/windows-run.ts";

/** A real plist parser (Python's plistlib, as in Debian's python3) reads what launchd would read. */
function parsePlist(text: string): Record<string, unknown> {
  const r = Bun.spawnSync(["python3", "-c", "import json, plistlib, sys; print(json.dumps(plistlib.loads(sys.stdin.buffer.read())))"], {
    stdin: Buffer.from(text),
    stdout: "pipe",
    stderr: "pipe",
  });
  if (r.exitCode !== 0) throw new Error(`plistlib refused the plist: ${r.stderr}`);
  return JSON.parse(r.stdout.toString());
}

describe("macOS LaunchAgent", () => {
  test("the plist parses and says: this binary's agent, a 0600 socket launchd makes in a private directory and names in CRED_SOCK", () => {
    const plist = parsePlist(launchAgentPlist("/Users/a b/bin/credagent&co"));
    expect(plist).toEqual({
      Label: LAUNCHD_LABEL,
      ProgramArguments: ["/Users/a b/bin/credagent&co", "agent"],
      EnvironmentVariables: { [LAUNCHD_SOCKET_ENV]: LAUNCHD_SOCKET_NAME },
      Sockets: { [LAUNCHD_SOCKET_NAME]: { SecureSocketWithKey: "CRED_SOCK", SockPathMode: 0o600 } },
      ProcessType: "Background",
    });
    expect(launchAgentPlist("/x")).toContain("credagent service install"); // the mark uninstall looks for
  });

  test("launchctl: bootstrap into the user's GUI domain, bootout and print by label", () => {
    expect(launchctlCommands("load", 501, "/Users/a/Library/LaunchAgents/p.plist")).toEqual([
      "bootstrap",
      "gui/501",
      "/Users/a/Library/LaunchAgents/p.plist",
    ]);
    expect(launchctlCommands("unload", 501, "/p")).toEqual(["bootout", `gui/501/${LAUNCHD_LABEL}`]);
    expect(launchctlCommands("print", 501, "/p")).toEqual(["print", `gui/501/${LAUNCHD_LABEL}`]);
  });
});

describe("Windows Run value", () => {
  test("the command line quotes the path and runs start", () => {
    expect(runCommandLine("C:\\Program Files\\credagent\\credagent.exe")).toBe(
      '"C:\\Program Files\\credagent\\credagent.exe" start -s --service',
    );
  });

  test("reg query output: the value's data, any case of its name; absent, null", () => {
    const out =
      '\r\nHKEY_CURRENT_USER\\Software\\Microsoft\\Windows\\CurrentVersion\\Run\r\n    OneDrive    REG_SZ    "C:\\od.exe" /background\r\n    Credagent    REG_SZ    "C:\\x y\\credagent.exe" start -s\r\n\r\n';
    expect(parseRegQuery(out, RUN_VALUE)).toBe('"C:\\x y\\credagent.exe" start -s');
    expect(parseRegQuery(out, "other")).toBeNull();
    expect(parseRegQuery("", RUN_VALUE)).toBeNull();
  });
});
