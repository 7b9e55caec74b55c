import { describe, expect, test } from "bun:test";
import { parseReadyHealth } from "../../../src/client/start.ts";
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
