import { expect, test } from "bun:test";
import type { DatabaseConfig } from "../../../src/config/databases.ts";
import { chooseDatabase } from "../../../src/dbproxy/proxy.ts";

const db = (databases: string[]): DatabaseConfig => ({
  name: "appdb",
  credential: "pg",
  protocol: "postgresql",
  host: "db",
  port: 5432,
  tls: "disable",
  databases,
});
const params = (entries: Record<string, string>) => new Map(Object.entries(entries));

test("the database a session is for: the one named if served, the endpoint's first if none, any with '*'", () => {
  expect(chooseDatabase(db(["app", "reports"]), params({ database: "reports" }))).toBe("reports");
  expect(chooseDatabase(db(["app", "reports"]), params({}))).toBe("app");
  expect(chooseDatabase(db(["app"]), params({ database: "" }))).toBe("app");
  expect(chooseDatabase(db(["*"]), params({ database: "anything" }))).toBe("anything");
  expect(chooseDatabase(db(["*"]), params({ user: "me" }))).toBe("me");
});

test("a database the endpoint does not serve is refused, saying which it serves and how to add one", () => {
  expect(() => chooseDatabase(db(["app"]), params({ database: "secretdb" }))).toThrow(
    "database 'secretdb' is not served by [databases.appdb] (it serves 'app'); add it to databases = [...] there, or connect to one of those",
  );
});
