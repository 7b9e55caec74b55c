import { describe, expect, test } from "bun:test";
import { dialectFromShell, exportCode, unsetCode } from "../../../../src/cli/output/shell.ts";

const vars: Array<[string, string]> = [
  ["CRED_SOCK", "/run/user/1000/cred.sock"],
  ["CRED_AGENT_PID", "4242"],
];

describe("shell code", () => {
  test("dialect from $SHELL", () => {
    expect(dialectFromShell("/bin/bash")).toBe("sh");
    expect(dialectFromShell("/usr/bin/zsh")).toBe("sh");
    expect(dialectFromShell("/bin/tcsh")).toBe("csh");
    expect(dialectFromShell("/usr/bin/fish")).toBe("fish");
    expect(dialectFromShell("C:\\Program Files\\PowerShell\\7\\pwsh.exe")).toBe("powershell");
    expect(dialectFromShell(undefined)).toBe("sh");
  });

  test("sh, csh, fish and PowerShell forms", () => {
    expect(exportCode("sh", vars, "Agent pid 4242")).toBe(
      "CRED_SOCK=/run/user/1000/cred.sock; export CRED_SOCK;\nCRED_AGENT_PID=4242; export CRED_AGENT_PID;\necho 'Agent pid 4242';\n",
    );
    expect(exportCode("csh", vars, "m")).toContain("setenv CRED_SOCK /run/user/1000/cred.sock;");
    expect(exportCode("fish", vars, "m")).toContain("set -x CRED_AGENT_PID 4242;");
    expect(exportCode("powershell", vars, "m")).toContain("$env:CRED_SOCK = '/run/user/1000/cred.sock';");
    expect(unsetCode("sh", ["CRED_SOCK"], "x")).toStartWith("unset CRED_SOCK;");
    expect(unsetCode("csh", ["CRED_SOCK"], "x")).toStartWith("unsetenv CRED_SOCK;");
    expect(unsetCode("fish", ["CRED_SOCK"], "x")).toStartWith("set -e CRED_SOCK;");
    expect(unsetCode("powershell", ["CRED_SOCK"], "x")).toStartWith("Remove-Item Env:CRED_SOCK");
  });

  test("values with shell metacharacters are quoted so eval cannot run them", async () => {
    const evil = "/tmp/a b'; touch /tmp/pwned; '/cred.sock";
    const code = exportCode("sh", [["CRED_SOCK", evil]], "ok");
    const proc = Bun.spawnSync(["sh", "-c", `${code} printf %s "$CRED_SOCK"`]);
    expect(proc.stdout.toString()).toBe(`ok\n${evil}`);
    expect(await Bun.file("/tmp/pwned").exists()).toBe(false);
  });
});
