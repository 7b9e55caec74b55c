import type { CredentialRegistry } from "../refresh/registry.ts";

export interface AgentInfo {
  version: string;
  pid: number;
  socket: string;
  startedAt: number;
}

/** What the API needs from the agent; passed in so routes are testable with app.request(). */
export interface ApiDeps {
  registry: Pick<CredentialRegistry, "get" | "list">;
  info: AgentInfo;
  now: () => number;
}
