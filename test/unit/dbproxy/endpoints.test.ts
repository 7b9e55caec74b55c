import { expect, test } from "bun:test";
import type { DatabaseConfig } from "../../../src/config/databases.ts";
import { clientVariables, describeEndpoints, RESTART } from "../../../src/dbproxy/endpoints.ts";
import type { PathEnv } from "../../../src/paths.ts";

const p = { platform: "linux", uid: 1000, env: { XDG_RUNTIME_DIR: "/run/user/1000" } } as unknown as PathEnv;
const db = (name: string, protocol: DatabaseConfig["protocol"], extra: Partial<DatabaseConfig> = {}): DatabaseConfig => ({
  name,
  credential: "c",
  protocol,
  databases: [name],
  host: "db",
  port: 1,
  tls: "disable",
  ...extra,
});

test("served, not served (added since start), changed, failed, removed", () => {
  const pg = db("pg", "postgresql", { listen: { host: "127.0.0.1", port: 15432 } });
  const cache = db("cache", "redis");
  const served = [
    { db: pg, transport: "unix" as const, address: "/run/user/1000/credagent/db/pg/.s.PGSQL.5432" },
    { db: pg, transport: "tcp" as const, address: "127.0.0.1:15432" },
    { db: cache, transport: "unix" as const, address: "/run/user/1000/credagent/db/cache/redis.sock", error: "EACCES" },
    { db: db("gone", "redis"), transport: "unix" as const, address: "/run/user/1000/credagent/db/gone/redis.sock" },
  ];
  const list = describeEndpoints([{ ...pg, port: 2 }, cache, db("new", "redis")], served, p);
  expect(list.map((e) => [e.name, e.transport, e.address, e.served, e.note])).toEqual([
    ["pg", "unix", "/run/user/1000/credagent/db/pg/.s.PGSQL.5432", true, expect.stringContaining("changed in the config")],
    ["pg", "tcp", "127.0.0.1:15432", true, expect.stringContaining("changed in the config")],
    ["cache", "unix", "/run/user/1000/credagent/db/cache/redis.sock", false, "not served: EACCES"],
    ["new", "unix", "/run/user/1000/credagent/db/new/redis.sock", false, RESTART],
    ["gone", "unix", "/run/user/1000/credagent/db/gone/redis.sock", true, "removed from the config: served until the agent restarts"],
  ]);
  expect(list[0]!.socket_dir).toBe("/run/user/1000/credagent/db/pg");
});

test("client variables: one served socket per protocol; none for a protocol with two", () => {
  const info = (name: string, protocol: string, address: string, served = true) => ({
    name,
    protocol,
    server: "db:1",
    tls: "disable",
    transport: "unix" as const,
    address,
    served,
    ...(protocol === "postgresql" ? { socket_dir: address.replace(/\/[^/]*$/, "") } : {}),
  });
  expect(
    clientVariables([
      info("pg", "postgresql", "/r/pg/.s.PGSQL.5432"),
      info("m", "mysql", "/r/m/mysql.sock"),
      info("a", "redis", "/r/a/redis.sock"),
      info("b", "redis", "/r/b/redis.sock", false),
    ]),
  ).toEqual([
    ["PGHOST", "/r/pg"],
    ["MYSQL_UNIX_PORT", "/r/m/mysql.sock"],
    ["REDIS_URL", "unix:///r/a/redis.sock"],
  ]);
  expect(clientVariables([info("a", "redis", "/a"), info("b", "redis", "/b")])).toEqual([]);
});
