import { describe, expect, test } from "bun:test";
import { mkdtempSync, openSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { openAgentLogging } from "../../../src/agent/logging.ts";
import { parseReadyHealth } from "../../../src/client/start.ts";
import { currentPathEnv } from "../../../src/paths.ts";
import type { HealthResponse } from "../../../src/wire/types.ts";

describe("the agent's ready line", () => {
  test("carries the health answer start prints from", () => {
    const health: HealthResponse = {
      status: "ok",
      version: "1.0.0",
      pid: 42,
      socket: "/run/user/1000/cred.sock",
      started_at: "2026-12-06T00:00:00.000Z",
      locked: false,
    };
    expect(parseReadyHealth(JSON.stringify(health))).toEqual(health);
  });

  test("a line without a usable answer (an older agent's bare 'ready', garbage, no pid or socket) makes start ask", () => {
    for (const text of [
      "",
      "{",
      "null",
      "5",
      '"ok"',
      '{"status":"ok","socket":"/s"}',
      '{"status":"ok","pid":"1","socket":"/s"}',
      '{"status":"down","pid":1,"socket":"/s"}',
    ])
      expect(parseReadyHealth(text)).toBeNull();
  });
});

test("the agent writes its health answer on the ready pipe, and start reads it back whole", () => {
  const dir = mkdtempSync("/tmp/ca-ready-");
  try {
    const pipe = join(dir, "ready");
    const fd = openSync(pipe, "w");
    const logging = openAgentLogging(
      { debug: false, logFile: join(dir, "agent.log"), readyFd: String(fd), level: "error" },
      currentPathEnv(),
    );
    const health: HealthResponse = {
      status: "ok",
      version: "1.0.0",
      pid: 4242,
      socket: join(dir, "cred.sock"),
      started_at: "2026-12-07T00:00:00.000Z",
      locked: false,
      store: { state: "closed", description: "the OS keyring" },
    };
    logging.ready(health);
    const line = readFileSync(pipe, "utf8");
    expect(line.endsWith("\n")).toBe(true);
    expect(line.startsWith("ready ")).toBe(true);
    expect(parseReadyHealth(line.slice("ready ".length, -1))).toEqual(health);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
