import { afterAll, beforeAll, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { Sandbox } from "./harness.ts";

// `credagent db` and `credagent env` ask the running agent what it serves. Endpoints are made at
// start: a database added by reload is listed as not served (no socket path that does not exist).
// No database server is needed: a socket is served whether or not its server answers.

let box: Sandbox;
const sock = (name: string, file: string) => join(box.runtimeDir, "credagent", "db", name, file);
const table = (name: string, protocol: string) =>
  `[databases.${name}]\ncredential = "c"\nprotocol = "${protocol}"\nserver = "127.0.0.1:9"\ntls = "disable"\n`;

beforeAll(async () => {
  box = new Sandbox();
  box.writeConfig(`[credentials.c]\nsource = "static"\nusername = "u"\n\n${table("pg", "postgresql")}\n${table("cache", "redis")}`);
  await box.start();
});

afterAll(async () => {
  await box?.cleanup();
});

test("every endpoint with its protocol and socket, served; env prints each protocol's variable for its one socket", async () => {
  const list = await box.run(["db", "--json"]);
  expect(list.code).toBe(0);
  expect(JSON.parse(list.stdout)).toEqual([
    {
      name: "pg",
      protocol: "postgresql",
      server: "127.0.0.1:9",
      tls: "disable",
      transport: "unix",
      address: sock("pg", ".s.PGSQL.5432"),
      socket_dir: join(box.runtimeDir, "credagent", "db", "pg"),
      served: true,
    },
    {
      name: "cache",
      protocol: "redis",
      server: "127.0.0.1:9",
      tls: "disable",
      transport: "unix",
      address: sock("cache", "redis.sock"),
      served: true,
    },
  ]);
  const env = await box.run(["env", "-s"]);
  expect(env.code).toBe(0);
  expect(env.stdout).toContain(`PGHOST=${join(box.runtimeDir, "credagent", "db", "pg")}; export PGHOST;`);
  expect(env.stdout).toContain(`REDIS_URL=unix://${sock("cache", "redis.sock")}; export REDIS_URL;`);
});

test("a database added by reload is listed as not served by the running agent, with no socket made; a second redis database takes REDIS_URL away", async () => {
  box.writeConfig(
    `[credentials.c]\nsource = "static"\nusername = "u"\n\n${table("pg", "postgresql")}\n${table("cache", "redis")}\n${table("later", "redis")}`,
  );
  expect((await box.run(["reload"])).code).toBe(0);
  const list = JSON.parse((await box.run(["db", "--json"])).stdout) as Array<{ name: string; served: boolean; note?: string }>;
  const later = list.find((e) => e.name === "later")!;
  expect(later.served).toBe(false);
  expect(later.note).toContain("not served by the running agent: restart it");
  expect(existsSync(sock("later", "redis.sock"))).toBe(false);
  const text = await box.run(["db"]);
  expect(text.stdout).toMatch(/later +redis .*not served by the running agent: restart it/);
  expect(text.stdout).toMatch(/cache +redis .*served/);
  // The one served redis socket is still the only one: REDIS_URL stays.
  expect((await box.run(["env", "-s"])).stdout).toContain("REDIS_URL=unix://");
});

test("with no agent running, the config's endpoints are listed as not served", async () => {
  const other = new Sandbox();
  try {
    other.writeConfig(`[credentials.c]\nsource = "static"\nusername = "u"\n\n${table("pg", "postgresql")}`);
    const list = JSON.parse((await other.run(["db", "--json"])).stdout) as Array<{ served: boolean; note: string }>;
    expect(list).toMatchObject([{ served: false, note: "the agent is not running: credagent start" }]);
  } finally {
    await other.cleanup();
  }
});
