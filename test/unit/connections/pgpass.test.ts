import { expect, test } from "bun:test";
import { pgpassBytes } from "../../../src/connections/pgpass.ts";
import { Secret } from "../../../src/secret.ts";

test("pgpass lines: \\ and : escaped in every field, * kept as libpq's wildcard", () => {
  const out = new TextDecoder().decode(
    pgpassBytes([
      { host: "127.0.0.1", port: "5432", database: "*", username: "app", password: new Secret("a:b\\c*d") },
      { host: "db:x", port: "*", database: "app", username: "u\\1", password: new Secret("p") },
    ]),
  );
  expect(out).toBe("127.0.0.1:5432:*:app:a\\:b\\\\c*d\ndb\\:x:*:app:u\\\\1:p\n");
});

test("a password with a line break is refused (a pgpass file cannot hold it)", () => {
  expect(() => pgpassBytes([{ host: "h", port: "1", database: "d", username: "u", password: new Secret("a\nb") }])).toThrow("line break");
});
