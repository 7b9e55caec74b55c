import { expect, test } from "bun:test";
import { capabilitiesOf } from "../../../src/platform/os.ts";
import { dialectFromShell } from "../../../src/cli/output/shell.ts";

test("each OS's capabilities, asked in one place", () => {
  expect(capabilitiesOf("linux")).toEqual({
    os: "linux",
    namedPipes: false,
    unixSockets: true,
    socketActivation: true,
    loopbackPeers: true,
    defaultShell: "sh",
    keyring: { name: "Secret Service", listsAccounts: true },
    directoryFsync: true,
    console: "termios",
    autostart: "linux",
  });
  expect(capabilitiesOf("darwin")).toMatchObject({ keyring: { name: "Keychain" }, autostart: "launchd" });
  expect(capabilitiesOf("win32")).toMatchObject({
    keyring: { name: "Credential Manager", listsAccounts: false },
    directoryFsync: false,
    console: "windows",
    autostart: "windows-run",
  });
  expect(capabilitiesOf("freebsd").autostart).toBeNull();
  expect(capabilitiesOf("darwin")).toMatchObject({ namedPipes: false, unixSockets: true, socketActivation: true, loopbackPeers: false });
  expect(capabilitiesOf("win32")).toMatchObject({
    namedPipes: true,
    unixSockets: false,
    socketActivation: false,
    loopbackPeers: false,
    defaultShell: "powershell",
  });
  // With no $SHELL, the OS's shell.
  expect(dialectFromShell(undefined, capabilitiesOf("win32").defaultShell)).toBe("powershell");
  expect(dialectFromShell("/bin/bash", capabilitiesOf("win32").defaultShell)).toBe("sh");
});
