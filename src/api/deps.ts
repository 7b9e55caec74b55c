import type { CredentialRegistry } from "../refresh/registry.ts";
import type { Actor } from "../identity/actor.ts";
import type { Decision } from "../policy/rules.ts";
import type { Secret } from "../secret.ts";
import type { Token } from "../sources/source.ts";
import type { ConfigStatus, DatabaseEndpointInfo, FileSummary, PendingApproval, ReloadResponse, StoreStatus } from "../wire/types.ts";
import type { KeptFile } from "../files/keeper.ts";

/** The agent's lock (ssh-add -x / -X), implemented by the agent. */
export interface LockControl {
  readonly locked: boolean;
  lock(passphrase: Secret): Promise<void>;
  unlock(passphrase: Secret): Promise<void>;
}

/** The secret store's state, and the file store's passphrase from `credagent unlock`. */
export interface StoreControl {
  status(): StoreStatus;
  /** Opens the store waiting for its passphrase (state `locked`); zeroes the passphrase given. */
  unlock(passphrase: Secret): Promise<void>;
}

/** The config in force and `credagent reload` (the same as SIGHUP). */
export interface ConfigControl {
  status(): ConfigStatus;
  /** Throws a config_invalid error when the file is invalid; the previous config then stays. */
  reload(): ReloadResponse;
}

export interface AgentInfo {
  version: string;
  pid: number;
  socket: string;
  startedAt: number;
  /** Started by the session's service (socket activation, or the autostart entry / Run value's `start --service`). */
  service?: boolean;
  /** Whether the agent's own program file was replaced since it started (an upgrade). */
  binaryReplaced?: () => boolean;
  /** The start options it runs with (-a, --config, --keyring, -t), for a restart with the same. */
  startedWith?: string[];
}

/** The access decision of src/policy/rules.ts: allowed, and the rule that matched or why none did. */
export type AccessDecision = Decision;

/** What the API needs from the agent; passed in so routes are testable with app.request(). */
export interface ApiDeps {
  registry: Pick<CredentialRegistry, "get" | "list" | "secretChanged" | "refreshKeptFresh">;
  lock: LockControl;
  /** May this connection's peer fetch this credential? Also writes the audit line. */
  authorize(credential: string, event: "fetch" | "refresh" | "login", connection: Actor | undefined): Promise<AccessDecision>;
  /** Whether the peer may see the credential in listings (no audit line). */
  mayList(credential: string, connection: Actor | undefined): Promise<boolean>;
  /** Pending `confirm = true` prompts, and answers to them from `credagent approve`. */
  approvals: {
    /** The wire's PendingApproval, with `since` in epoch milliseconds (the route writes it as a date). */
    list(): Array<Omit<PendingApproval, "since"> & { since: number }>;
    answer(id: string, approve: boolean, connection: Actor | undefined): void;
  };
  /** The session token check; null when none is required on this transport. */
  sessionToken: ((authorization: string | undefined) => boolean) | null;
  info: AgentInfo;
  /** Absent in tests of routes that do not need it. */
  config?: ConfigControl;
  /** Absent in tests of routes that do not need it. */
  store?: StoreControl;
  /** Starts the agent's orderly shutdown (POST /v1/shutdown); absent in tests. */
  shutdown?: (reason: string) => void;
  /** The config's connections (GET /v1/connections/NAME); absent in tests of routes that do not need it. */
  connections?: {
    get(name: string): { name: string; credential: string };
    render(connection: { name: string; credential: string }, token: Token): string;
    pgpassFile(): string | null;
  };
  /** The database endpoints of the config in force and whether they are served (GET /v1/databases); absent in tests. */
  databases?: { list(): DatabaseEndpointInfo[] };
  /** The files the agent keeps fresh (GET /v1/files); absent in tests of routes that do not need it. */
  files?: {
    list(): FileSummary[];
    file(name: string): Pick<KeptFile, "name" | "path" | "credentials" | "render">;
  };
  /** A kerberos credential's Negotiate header for an http(s) URL; absent in tests of routes that do not need it. */
  negotiate?: (credential: string, url: string) => Promise<{ authorization: Secret; service: string; expiresAt: number }>;
  now: () => number;
}
