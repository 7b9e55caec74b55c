import { expect, test } from "bun:test";
import { parseConfig } from "../../../src/config/load.ts";
import { restartNotice, startOnlyChanges } from "../../../src/config/start-only.ts";

const cred = '[credentials.a]\nsource = "command"\ncommand = ["x"]\n';

test("only settings read at start are named, each once, and credentials never", () => {
  const running = parseConfig(cred, "/c.toml");
  expect(startOnlyChanges(running, parseConfig(`${cred}timeout = "9s"\n`, "/c.toml"))).toEqual([]);
  const next = parseConfig(
    `keyring = "file"\nfile_passphrase_file = "/p"\n[agent]\nrequest_wait = "5s"\ndeny_root = true\nrequire_session_token = true\nconfirm_timeout = "5s"\n${cred}`,
    "/c.toml",
  );
  expect(startOnlyChanges(running, next)).toEqual([
    "keyring",
    "file_passphrase_file",
    "agent.request_wait",
    "agent.deny_root",
    "agent.require_session_token",
    "agent.confirm_timeout",
  ]);
  // The default written out is no change.
  expect(startOnlyChanges(running, parseConfig(`keyring = "auto"\n[agent]\ndeny_root = false\n${cred}`, "/c.toml"))).toEqual([]);
});

test("the notice says how to apply them", () => {
  expect(restartNotice(["keyring"])).toBe("keyring changed; it applies at the next start: credagent stop && credagent start");
  expect(restartNotice(["keyring", "agent.deny_root"])).toContain("keyring, agent.deny_root changed; they apply at the next start");
});

test("database endpoints are made at start: a changed one is named", () => {
  const db = (server: string) => `${cred}[databases.app]\ncredential = "a"\nprotocol = "postgresql"\nserver = "${server}"\nuser = "app"\n`;
  expect(startOnlyChanges(parseConfig(db("h:5432"), "/c.toml"), parseConfig(db("h:5432"), "/c.toml"))).toEqual([]);
  expect(startOnlyChanges(parseConfig(db("h:5432"), "/c.toml"), parseConfig(db("h:6432"), "/c.toml"))).toEqual(["databases"]);
  expect(startOnlyChanges(parseConfig(cred, "/c.toml"), parseConfig(db("h:5432"), "/c.toml"))).toEqual(["databases"]);
});
