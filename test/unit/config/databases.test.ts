import { expect, test } from "bun:test";
import { socketName } from "../../../src/config/databases.ts";
import { parseConfig } from "../../../src/config/load.ts";

const credential = `[credentials.pg]\nsource = "static"\n`;

function parse(databases: string) {
  return parseConfig(credential + databases, "/etc/credagent.toml");
}

test("a database endpoint: server split into host and port, tls verify-full unless told, ca_file relative to the config", () => {
  const config = parse(
    `[databases.appdb]\ncredential = "pg"\nprotocol = "postgresql"\nserver = "db.example.com:6432"\nca_file = "ca.pem"\nuser = "app"\n`,
  );
  expect(config.databases).toEqual([
    {
      name: "appdb",
      credential: "pg",
      databases: ["appdb"],
      protocol: "postgresql",
      host: "db.example.com",
      port: 6432,
      tls: "verify-full",
      caFile: "/etc/ca.pem",
      user: "app",
    },
  ]);
  expect(
    parse(`[databases.v6]\ncredential = "pg"\nprotocol = "postgresql"\nserver = "[::1]:5432"\ntls = "disable"\n`).databases[0],
  ).toMatchObject({ host: "::1", port: 5432, tls: "disable" });
});

test("mistakes are refused with the key's path and what to do", () => {
  const base = `[databases.appdb]\ncredential = "pg"\nprotocol = "postgresql"\n`;
  expect(() => parse(base + `server = "db.example.com"\n`)).toThrow(/databases\.appdb\.server: expected host:port/);
  expect(() => parse(base + `server = "db:5432"\ntls = "prefer"\n`)).toThrow(
    /databases\.appdb\.tls: expected "disable", "require", "verify-ca" or "verify-full"/,
  );
  expect(() => parse(base.replace('"pg"', '"nope"') + `server = "db:5432"\n`)).toThrow(
    /databases\.appdb\.credential: no credential 'nope'/,
  );
  expect(() => parse(base.replace('"postgresql"', '"oracle"') + `server = "db:5432"\n`)).toThrow(
    /databases\.appdb\.protocol: expected one of "postgresql", "mysql", "redis"/,
  );
  expect(() => parse(base + `server = "db:5432"\nallow_rsa_public_key = true\n`)).toThrow(
    /allow_rsa_public_key: only for protocol = "mysql"/,
  );
  expect(() => parse(base + `server = "db:99999"\n`)).toThrow(/port 99999 is out of range/);
  expect(() => parse(base + `server = "db:5432"\ntls = "require"\nca_file = "x"\n`)).toThrow(
    /ca_file: only used with tls = "verify-ca" or "verify-full"/,
  );
  expect(() => parse(base + `server = "db:5432"\nsevrer = "x"\n`)).toThrow(/databases\.appdb\.sevrer: unknown key/);
  expect(() => parse(`[databases.appdb]\nprotocol = "postgresql"\nserver = "db:5432"\n`)).toThrow(/databases\.appdb\.credential: missing/);
});

test("the databases an endpoint serves: its own name unless told; database or databases; '*' only alone", () => {
  const base = `[databases.appdb]\ncredential = "pg"\nprotocol = "postgresql"\nserver = "db:5432"\n`;
  expect(parse(base).databases[0]!.databases).toEqual(["appdb"]);
  expect(parse(`${base}database = "app"\n`).databases[0]!.databases).toEqual(["app"]);
  expect(parse(`${base}databases = ["app", "reports"]\n`).databases[0]!.databases).toEqual(["app", "reports"]);
  expect(parse(`${base}databases = ["*"]\n`).databases[0]!.databases).toEqual(["*"]);
  expect(() => parse(`${base}database = "a"\ndatabases = ["b"]\n`)).toThrow(/databases\.appdb: set database or databases, not both/);
  expect(() => parse(`${base}databases = ["*", "b"]\n`)).toThrow(/"\*" \(any database\) stands alone/);
  expect(() => parse(`${base}databases = []\n`)).toThrow(/at least one database name/);
});

test("listen: a loopback address and port, one database per port", () => {
  const base = `[databases.appdb]\ncredential = "pg"\nprotocol = "postgresql"\nserver = "db:5432"\n`;
  expect(parse(base + `listen = "127.0.0.1:15432"\n`).databases[0]?.listen).toEqual({ host: "127.0.0.1", port: 15432 });
  expect(() => parse(base + `listen = "0.0.0.0:15432"\n`)).toThrow(/databases\.appdb\.listen: expected a loopback address and port/);
  expect(() => parse(base + `listen = "127.0.0.1:0"\n`)).toThrow(/port 0 is out of range/);
  expect(() => parse(base + `listen = "127.0.0.1:15432"\n` + base.replace("appdb", "other") + `listen = "127.0.0.1:15432"\n`)).toThrow(
    /databases\.other\.listen: 127\.0\.0\.1:15432 is databases\.appdb's too/,
  );
});

test("mysql takes allow_rsa_public_key; its socket is mysql.sock", () => {
  const config = parse(
    `[databases.my]\ncredential = "pg"\nprotocol = "mysql"\nserver = "db:3306"\ntls = "disable"\nallow_rsa_public_key = true\n`,
  );
  expect(config.databases.map((d) => [d.name, d.protocol, d.allowRsaPublicKey])).toEqual([["my", "mysql", true]]);
  expect(socketName("mysql")).toBe("mysql.sock");
});
