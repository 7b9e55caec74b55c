import { expect, test } from "bun:test";
import { parseEnvFile, resolveEnvEntries } from "../../../src/cli/env-file.ts";
import { CredagentError } from "../../../src/errors.ts";
import type { TokenResponse } from "../../../src/wire/types.ts";

test("references, literals, dotenv's quotes, export and comments; an escaped reference is a literal", () => {
  const entries = parseEnvFile(
    [
      "# a comment",
      "export PLAIN=hello world",
      'QUOTED="a # b"',
      "TOKEN=cred://tok",
      "USER='cred://db.prod/username'",
      "URL=conn://app",
      "LITERAL=\\cred://not-one",
      "TWICE=\\\\conn://x",
      "EMPTY=",
    ].join("\n"),
    ".env",
  );
  expect(Object.fromEntries(entries.map((e) => [e.variable, e.value]))).toEqual({
    PLAIN: "hello world",
    QUOTED: "a # b",
    TOKEN: { kind: "credential", name: "tok" },
    USER: { kind: "credential", name: "db.prod", part: "username" },
    URL: { kind: "connection", name: "app" },
    LITERAL: "cred://not-one",
    TWICE: "\\conn://x",
    EMPTY: "",
  });
});

test("a malformed reference is an error naming the file and the variable", () => {
  expect(() => parseEnvFile("A=cred://db/pasword\n", "x.env")).toThrow("x.env: A=cred://db/pasword: 'pasword' is not a part");
  expect(() => parseEnvFile("A=cred://a b\n", "x.env")).toThrow("expected cred://NAME or cred://NAME/PART");
  expect(() => parseEnvFile("A=conn://\n", "x.env")).toThrow("expected conn://NAME");
});

test("one request per credential; a failure names the variable", async () => {
  const asked: string[] = [];
  const answer = (name: string): TokenResponse => ({
    name,
    kind: "password",
    token: "pw",
    password: "pw",
    username: "u",
    token_type: "Bearer",
    expires_at: "",
    expires_in: 60,
  });
  const client = {
    token: async (name: string, minValid?: number) => {
      asked.push(`${name}:${minValid}`);
      if (name === "nope") throw new CredagentError("unknown_credential", "no credential named 'nope' is configured");
      return answer(name);
    },
    connection: async (name: string) => ({ name, credential: "db", connection_string: "pg://u:pw@h", expires_at: "", expires_in: 60 }),
  };
  const entries = parseEnvFile("A=cred://db\nB=cred://db/username\nC=conn://app\nD=lit\n", ".env");
  expect(await resolveEnvEntries(entries, client, 600, ".env")).toEqual([
    ["A", "pw"],
    ["B", "u"],
    ["C", "pg://u:pw@h"],
    ["D", "lit"],
  ]);
  expect(asked).toEqual(["db:600"]);
  const failing = resolveEnvEntries(parseEnvFile("X=cred://nope\n", ".env"), client, undefined, ".env");
  await expect(failing).rejects.toThrow(".env: X: no credential named 'nope' is configured");
  await expect(resolveEnvEntries(parseEnvFile("Y=cred://db/access_key_id\n", ".env"), client, undefined, ".env")).rejects.toThrow(
    ".env: Y: the credential 'db' (password) has no access_key_id",
  );
});
