import { expect, test } from "bun:test";
import type { AgentApi } from "../../../../src/client/client.ts";
import { runCli } from "../../../../src/cli/run.ts";
import type { CliContext } from "../../../../src/cli/io.ts";
import { CredagentError } from "../../../../src/errors.ts";
import type { CredentialSummary, TokenResponse } from "../../../../src/wire/types.ts";

// The CLI's commands against an injected client: what each prints and exits with for the agent's
// answers and errors, with no agent and no socket.

function context(client: Partial<AgentApi>): { ctx: CliContext; out: string[]; err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  const ctx: CliContext = {
    pathEnv: { platform: "linux", uid: 1000, env: {}, home: "/home/u", username: "u" } as unknown as CliContext["pathEnv"],
    env: {},
    out: (t) => out.push(t),
    err: (t) => err.push(t),
    socketPath: () => "/run/user/1000/cred.sock",
    client: () => client as AgentApi,
  };
  return { ctx, out, err };
}

const token = (over: Partial<TokenResponse> = {}): TokenResponse => ({
  name: "db",
  kind: "bearer",
  token: "tok-1",
  token_type: "Bearer",
  expires_at: "2026-12-06T20:00:00.000Z",
  expires_in: 3600,
  ...over,
});

test("get prints the token alone, a password credential's password, the whole answer with --json, and asks for --min-valid in seconds", async () => {
  const asked: Array<[string, number | undefined]> = [];
  const { ctx, out } = context({
    token: async (name: string, minValidS?: number) => (asked.push([name, minValidS]), token()),
  });
  expect(await runCli(["get", "db", "--min-valid", "90s"], ctx)).toBe(0);
  expect(out.join("")).toBe("tok-1\n");
  expect(asked).toEqual([["db", 90]]);

  const pw = context({ token: async () => token({ kind: "password", token: "pw", password: "pw", username: "app" }) });
  expect(await runCli(["get", "db"], pw.ctx)).toBe(0);
  expect(pw.out.join("")).toBe("pw\n");

  const json = context({ token: async () => token() });
  expect(await runCli(["get", "db", "--json"], json.ctx)).toBe(0);
  expect(JSON.parse(json.out.join(""))).toMatchObject({ name: "db", token: "tok-1", expires_in: 3600 });
});

test("get: the agent's refusal is exit 1 with its message; no agent is exit 3; a bad flag is exit 2", async () => {
  const refused = context({
    token: async () => {
      throw new CredagentError("forbidden", "credential 'db' is not for this process: no allow rule matched");
    },
  });
  expect(await runCli(["get", "db"], refused.ctx)).toBe(1);
  expect(refused.err.join("")).toContain("no allow rule matched");

  const none = context({
    token: async () => {
      throw new CredagentError("agent_not_running", "no agent answers at /run/user/1000/cred.sock; run 'eval \"$(credagent start)\"'");
    },
  });
  expect(await runCli(["get", "db"], none.ctx)).toBe(3);

  const bad = context({});
  expect(await runCli(["get", "db", "--min-valid", "soon"], bad.ctx)).toBe(2);
  expect(bad.err.join("")).toContain("--min-valid takes a duration");
});

test("list shows names, sources and states, never a token", async () => {
  const credentials: CredentialSummary[] = [
    {
      name: "db",
      source: "command",
      state: "fresh",
      expires_at: "2099-01-01T00:00:00.000Z",
      refresh_at: null,
      last_error: null,
      note: null,
    },
    { name: "api", source: "oauth2", state: "failing", expires_at: null, refresh_at: null, last_error: "the provider is down", note: null },
  ];
  const { ctx, out } = context({ list: async () => ({ credentials }) });
  expect(await runCli(["list"], ctx)).toBe(0);
  const text = out.join("");
  expect(text).toMatch(/db\s+command\s+fresh/);
  expect(text).toMatch(/api\s+oauth2\s+failing/);
});
