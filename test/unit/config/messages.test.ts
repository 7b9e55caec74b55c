import { expect, test } from "bun:test";
import { configError } from "../../support/config-errors.ts";

// Each message names the real problem, in the words a user would look for.

test("a misspelt required key: the key is missing, the typo is unknown, with a suggestion", () => {
  const msg = configError('[credentials.db]\nsource = "command"\ncomand = ["az"]\n');
  expect(msg).toContain("credentials.db.command: missing");
  expect(msg).not.toContain("credentials.db.command: unknown key");
  expect(msg).toContain("credentials.db.comand: unknown key; did you mean command?");
});

test("an unknown key far from any known one gets no suggestion", () => {
  const msg = configError('[credentials.db]\nsource = "static"\nwhatever = 1\n');
  expect(msg).toContain("credentials.db.whatever: unknown key");
  expect(msg).not.toContain("did you mean");
});

test("a missing required oauth2 key is missing", () => {
  const msg = configError('[credentials.x]\nsource = "oauth2"\ngrant = "client_credentials"\nissuer = "https://idp.example.com"\n');
  expect(msg).toContain("credentials.x.client_id: missing");
});

test("a bad source names the value and the valid ones; an absent source is missing", () => {
  expect(configError('[credentials.db]\nsource = "magic"\n')).toContain(
    'credentials.db.source: unknown source "magic"; the sources are "command", "static", "oauth2"',
  );
  const absent = configError('[credentials.db]\ncommand = ["a"]\n');
  expect(absent).toContain('credentials.db.source: missing; set source to one of "command", "static", "oauth2"');
  expect(absent).not.toContain("undefined");
  expect(configError("[credentials]\ndb = 5\n")).toContain("credentials.db: expected a table with a source");
});

test("TOML syntax errors carry the line and column", () => {
  const msg = configError('keyring = "auto"\n\n[credentials.db\nsource = "static"\n');
  expect(msg).toContain("/c.toml: not valid TOML at line 3, column 16");
  expect(configError('[credentials.db]\nsource = = "static"\n')).toContain("not valid TOML at line 2, column");
});

const oauth = (key: string, url: string) =>
  `[credentials.x]\nsource = "oauth2"\ngrant = "device_code"\nclient_id = "c"\n${key} = "${url}"\n${key === "device_authorization_endpoint" ? 'token_endpoint = "https://idp.example.com/token"\n' : ""}`;

test("plain http to another machine is rejected for every endpoint credagent sends secrets to", () => {
  for (const key of ["issuer", "token_endpoint", "device_authorization_endpoint"]) {
    const msg = configError(oauth(key, "http://idp.example.com/t"));
    expect(msg).toContain(`credentials.x.${key}: http://idp.example.com/t is not https`);
  }
});

test("https anywhere and plain http to this machine are accepted", () => {
  for (const url of ["https://idp.example.com", "http://127.0.0.1:8080", "http://[::1]:8080", "http://localhost:9"]) {
    expect(configError(oauth("issuer", url))).toBe("");
  }
});

test("the [agent] table names its missing and misspelt keys too", () => {
  expect(configError("[agent]\ndeny_rot = true\n")).toContain("agent.deny_rot: unknown key; did you mean deny_root?");
});
