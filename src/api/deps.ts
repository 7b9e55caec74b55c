import type { CredentialRegistry } from "../refresh/registry.ts";
import type { Secret } from "../secret.ts";

/** The agent's lock (ssh-add -x / -X), implemented by the agent. */
export interface LockControl {
  readonly locked: boolean;
  lock(passphrase: Secret): Promise<void>;
  unlock(passphrase: Secret): Promise<void>;
}

export interface AgentInfo {
  version: string;
  pid: number;
  socket: string;
  startedAt: number;
}

/** What the API needs from the agent; passed in so routes are testable with app.request(). */
export interface ApiDeps {
  registry: Pick<CredentialRegistry, "get" | "list">;
  lock: LockControl;
  info: AgentInfo;
  now: () => number;
}
