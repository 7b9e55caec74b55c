import { expect, test } from "bun:test";
import { sectionChanges } from "../../../src/config/changes.ts";
import type { AgentConfig } from "../../../src/config/load.ts";

const base = {
  path: "/c.toml",
  requestWaitMs: 1,
  keyring: "auto",
  denyRoot: false,
  requireSessionToken: false,
  confirmTimeoutMs: 1,
  credentials: [],
  connections: [],
  git: {},
  docker: {},
  databases: [],
} as unknown as AgentConfig;

test("each table's entries by key: added, changed, removed; only tables that changed; listeners at start", () => {
  const next = {
    ...base,
    connections: [{ name: "app", credential: "a" }],
    git: { "https://g": "a" },
    endpoints: { azure: true, port: 0 },
  } as unknown as AgentConfig;
  expect(sectionChanges(base, next)).toEqual([
    { section: "connections", added: ["app"], changed: [], removed: [], at_start: false },
    { section: "git", added: ["https://g"], changed: [], removed: [], at_start: false },
    { section: "endpoints", added: ["azure", "port"], changed: [], removed: [], at_start: true },
  ]);
  const changed = {
    ...next,
    connections: [{ name: "app", credential: "b" }],
    git: {},
    endpoints: { azure: true, port: 8080 },
  } as unknown as AgentConfig;
  expect(sectionChanges(next, changed)).toEqual([
    { section: "connections", added: [], changed: ["app"], removed: [], at_start: false },
    { section: "git", added: [], changed: [], removed: ["https://g"], at_start: false },
    { section: "endpoints", added: [], changed: ["port"], removed: [], at_start: true },
  ]);
  expect(sectionChanges(changed, changed)).toEqual([]);
});
