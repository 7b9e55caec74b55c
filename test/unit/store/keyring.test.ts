import { expect, test } from "bun:test";
import { explainKeyringError } from "../../../src/store/keyring.ts";

// The library's raw errors, as @napi-rs/keyring 1.x (zbus) words them, turned into what they mean.
test("no D-Bus session bus: no Secret Service in this session, and how to get one", () => {
  const { what, hint } = explainKeyringError(
    "zbus error: Failed to connect to address `unix:path=/run/user/0/bus`: No such file or directory (os error 2)",
    "linux",
  );
  expect(what).toBe("no Secret Service is running in this session (no D-Bus session bus: nothing listens at unix:path=/run/user/0/bus)");
  expect(what).not.toContain("zbus");
  expect(hint).toContain("dbus-run-session");
  expect(hint).toContain('keyring = "file"');
});

test("the same from libdbus (keyring 2.x): a socket nobody listens on, no address at all, a malformed one", () => {
  expect(explainKeyringError("DBus error: Failed to connect to socket /nonexistent/bus: No such file or directory", "linux").what).toBe(
    "no Secret Service is running in this session (no D-Bus session bus: nothing listens at /nonexistent/bus)",
  );
  const none = explainKeyringError(
    "DBus error: Using X11 for dbus-daemon autolaunch was disabled at compile time, set your DBUS_SESSION_BUS_ADDRESS instead",
    "linux",
  );
  expect(none.what).toBe("no Secret Service is running in this session (no D-Bus session bus)");
  expect(none.hint).toContain("dbus-run-session");
  expect(explainKeyringError("DBus error: Address does not contain a colon", "linux").what).toContain(
    "DBUS_SESSION_BUS_ADDRESS is not a D-Bus address",
  );
  expect(explainKeyringError("DBus error: something else", "linux").what).toBe("something else");
});

test("a bus with no Secret Service on it", () => {
  const { what, hint } = explainKeyringError(
    "zbus error: org.freedesktop.DBus.Error.ServiceUnknown: The name org.freedesktop.secrets was not provided by any .service files",
    "linux",
  );
  expect(what).toBe("no Secret Service is running in this session (the D-Bus session bus has no org.freedesktop.secrets)");
  expect(hint).toContain("gnome-keyring-daemon");
});

test("other errors keep their text (without the library's prefix) and the platform's hint", () => {
  expect(explainKeyringError("zbus error: something else", "linux").what).toBe("something else");
  expect(explainKeyringError("Platform failure: platform limit exceeded", "win32").hint).toContain('keyring = "file"');
  expect(explainKeyringError("locked", "darwin").hint).toBe("is your login Keychain unlocked?");
});
