import { expect, test } from "bun:test";
import { chooseLinuxService } from "../../../src/cli/service/linux-choice.ts";

test("systemd only where it runs and a user manager answers; otherwise the autostart entry, saying why", () => {
  expect(chooseLinuxService({ systemdBooted: true, hasSystemctl: true, userManagerProblem: null })).toEqual({
    kind: "systemd",
    why: "a systemd user manager answers in this session",
  });
  // systemctl on PATH is not systemd running (containers, WSL without systemd, this kind of VM).
  const container = chooseLinuxService({ systemdBooted: false, hasSystemctl: true, userManagerProblem: "not asked" });
  expect(container.kind).toBe("xdg");
  expect(container.why).toStartWith("systemd is not running on this machine (no /run/systemd/system");
  expect(container.why).toContain("'--systemd' writes the systemd units anyway");
  const noSession = chooseLinuxService({ systemdBooted: true, hasSystemctl: true, userManagerProblem: "Failed to connect to bus" });
  expect(noSession).toMatchObject({ kind: "xdg" });
  expect(noSession.why).toContain("no systemd user manager answers in this session (systemctl --user: Failed to connect to bus)");
  expect(chooseLinuxService({ systemdBooted: true, hasSystemctl: false, userManagerProblem: "x" }).why).toStartWith(
    "systemctl is not installed",
  );
});

test("--systemd and --xdg force the choice", () => {
  expect(chooseLinuxService({ forced: "systemd", systemdBooted: false, hasSystemctl: true, userManagerProblem: "x" }).kind).toBe("systemd");
  expect(chooseLinuxService({ forced: "xdg", systemdBooted: true, hasSystemctl: true, userManagerProblem: null }).kind).toBe("xdg");
});
