// The API contract shared by the agent and its clients. Nothing here imports runtime code.

export const API_PREFIX = "/v1";

/** Where secrets are kept: the OS keyring, the encrypted file store, or the first that works. */
export const KEYRING_CHOICES = ["auto", "os", "file"] as const;
export type KeyringChoice = (typeof KEYRING_CHOICES)[number];

/** A --keyring value: the choice, or null when it is none of KEYRING_CHOICES. */
export function parseKeyringChoice(value: string): KeyringChoice | null {
  return (KEYRING_CHOICES as readonly string[]).includes(value) ? (value as KeyringChoice) : null;
}

/** What every command taking --keyring says of a value that is none of KEYRING_CHOICES. */
export const KEYRING_USAGE = `--keyring takes ${KEYRING_CHOICES.join(", ").replace(/, (\w+)$/, " or $1")}`;

/** POST /v1/lock with {"passphrase"}. */
export interface LockResponse {
  locked: true;
}

/** POST /v1/unlock with {"passphrase"}: the agent's lock, or the file store waiting for its passphrase ("open"). */
export interface UnlockResponse {
  locked: false;
  store?: "open";
}

/** POST /v1/shutdown: the agent answers, then stops as on SIGTERM. */
export interface ShutdownResponse {
  stopping: true;
  pid: number;
}

/** GET /v1/approvals: a `confirm = true` request waiting for its answer. */
export interface PendingApproval {
  id: string;
  credential: string;
  exe: string;
  pid: number;
  since: string;
}

export interface ApprovalsResponse {
  approvals: PendingApproval[];
}

/** POST /v1/approvals/ID with {"approve": bool}. */
export interface ApprovalAnswerResponse {
  id: string;
  approved: boolean;
}
export const CREDENTIAL_NAME = /^[A-Za-z0-9._-]{1,128}$/;

/** idle: nobody asked for it in a long while, so it is not refreshed; the next request fetches. */
export type CredentialState = "fresh" | "refreshing" | "stale" | "failing" | "not_loaded" | "login_required" | "idle";

export interface HealthResponse {
  status: "ok";
  version: string;
  pid: number;
  socket: string;
  started_at: string;
  locked: boolean;
  /** Started by the session's service (`credagent service install`): socket activation, autostart or the Run value. */
  service?: boolean;
  /** Its program file was replaced since it started (an upgrade): it runs the old code until restarted. */
  binary_replaced?: boolean;
  /** The start options it runs with (-a, --config, --keyring, -t): `credagent restart` starts the next one with the same. */
  started_with?: string[];
  /** The config the agent runs with (absent from agents older than `credagent reload`). */
  config?: ConfigStatus;
  /** The secret store (absent from older agents). */
  store?: StoreStatus;
  /** The pgpass file the agent keeps fresh, when the config has pgpass entries. */
  pgpass?: string | null;
}

/**
 * open: in use; closed: not opened yet (it opens at first use); locked: the encrypted file store
 * waits for its passphrase from `credagent unlock`.
 */
export type StoreState = "open" | "closed" | "locked";

export interface StoreStatus {
  state: StoreState;
  description: string;
  /** Which store: known once open, or while the file store waits for its passphrase. */
  backend?: "os" | "file";
  /** Why this store is the one in use (or will be): the keyring setting, and whether the OS keyring answered. */
  reason?: string;
  /** The credentials that cannot be served without the store (a stored secret or refresh token). */
  needed_by?: string[];
}

/** The agent's config file and how its last load went. */
export interface ConfigStatus {
  /** The absolute path the agent reads, at start and on each reload. */
  path: string;
  /** False when no file is there (the default path may be absent: no credentials). */
  exists: boolean;
  /** When the config in force was loaded. */
  loaded_at: string;
  /** Why the last reload failed, or null when it succeeded (or none was tried). */
  last_reload_error: string | null;
  last_reload_at: string | null;
}

/**
 * One endpoint of a `[databases.NAME]`: its socket, or its loopback TCP listener. GET /v1/databases
 * lists every endpoint of the config in force (after reloads) and says whether the running agent
 * serves it: endpoints are made at start, so one added by a reload is listed, not served.
 */
export interface DatabaseEndpointInfo {
  name: string;
  protocol: string;
  /** The real server, host:port. */
  server: string;
  tls: string;
  transport: "unix" | "tcp";
  /** The socket's path (unix) or the listener's address, 127.0.0.1:PORT (tcp). */
  address: string;
  /** For PostgreSQL's socket: the directory (what PGHOST names). */
  socket_dir?: string;
  served: boolean;
  /** Why it is not served, or what differs from what is served; absent when all is as configured. */
  note?: string;
}

export interface DatabasesResponse {
  databases: DatabaseEndpointInfo[];
}

/** POST /v1/reload: what a successful reload changed (a failed one is an error body). */
export interface ReloadResponse {
  config: ConfigStatus;
  added: string[];
  changed: string[];
  removed: string[];
  kept: string[];
  /** Settings that changed in the file but apply only at the next start. */
  start_only_changed: string[];
  /** The other tables that changed (connections, git, docker, databases, endpoints); absent from older agents. */
  sections?: ReloadSectionChange[];
}

/** One config table's entries a reload added, changed or removed, by key. */
export interface ReloadSectionChange {
  section: string;
  added: string[];
  changed: string[];
  removed: string[];
  /** True: the running agent applies it only at its next start (its listeners are made then). */
  at_start: boolean;
}

export interface CredentialSummary {
  name: string;
  source: string;
  state: CredentialState;
  expires_at: string | null;
  refresh_at: string | null;
  /** A renewable Kerberos ticket's renewal limit (absent from other credentials and older agents). */
  renew_until?: string | null;
  /** A kerberos credential's ticket cache, as KRB5CCNAME names it (`FILE:…`); not a secret. */
  ticket_cache?: string;
  last_error: string | null;
  /** What its tokens cost its clients, when worth saying (AWS keys shorter-lived than the SDKs' refresh window). */
  note: string | null;
}

export interface CredentialListResponse {
  credentials: CredentialSummary[];
}

/**
 * bearer: a token (OAuth access token, API token); password: a user name and a password;
 * aws: an access key id, a secret access key and, for temporary keys, a session token;
 * kerberos: a Kerberos ticket, in the cache whose KRB5CCNAME is the token (`FILE:/…`).
 */
export type CredentialKind = "bearer" | "password" | "aws" | "kerberos";

/** GET /v1/credentials/NAME. Secret parts: token, password, aws.secret_access_key, aws.session_token. */
export interface TokenResponse {
  name: string;
  kind: CredentialKind;
  /** The secret a program sends: the bearer token, or the password. Absent for aws credentials. */
  token?: string;
  token_type: string;
  expires_at: string;
  expires_in: number;
  /** A password credential's user name, or the one the config fixes with `username`. */
  username?: string;
  /** password credentials: the password (the same as token). */
  password?: string;
  aws?: { access_key_id: string; secret_access_key: string; session_token?: string };
}

/** GET /v1/credentials/NAME/negotiate?url=URL: a kerberos credential's HTTP Negotiate header (a secret). */
export interface NegotiateResponse {
  name: string;
  /** `Negotiate <base64 SPNEGO token>`, the value of an Authorization header. */
  authorization: string;
  /** The service principal (HTTP/host@REALM) the token is for. */
  service: string;
  expires_at: string;
}

/** GET /v1/connections/NAME: connection_string is a secret (it holds the password). */
export interface ConnectionResponse {
  name: string;
  credential: string;
  connection_string: string;
  expires_at: string;
  expires_in: number;
}

export interface ErrorBody {
  error: { code: string; message: string };
}

export interface LoginStartResponse {
  name: string;
  user_code: string;
  verification_uri: string;
  verification_uri_complete: string | null;
  expires_in: number;
  interval: number;
}

export interface LoginStatusResponse {
  name: string;
  status: "none" | "pending" | "done" | "failed";
  message: string | null;
  expires_at: string | null;
}

/** POST /v1/secrets/NAME/changed: the credentials using that secret that the agent retries now. */
export interface SecretChangedResponse {
  secret: string;
  retried: string[];
  /** Credentials fetched again at once because a kept file holds them (absent from older agents). */
  refreshed?: string[];
}

/**
 * A file the agent keeps fresh (`[files.NAME]`, and the connections' pgpass file): where it is, what
 * it holds (credential names, never values) and how its last write went.
 * written: holds current values; waiting: a credential it needs has no valid token yet; failed: the
 * last write failed (error says why); blanked: kept after a lock with its secrets emptied; removed:
 * taken away on lock (or never written since).
 */
export type FileState = "written" | "waiting" | "failed" | "blanked" | "removed";

export interface FileSummary {
  name: string;
  path: string;
  format: string;
  /** Octal, e.g. "0600". */
  mode: string;
  credentials: string[];
  state: FileState;
  written_at: string | null;
  error: string | null;
  /** The last run of its on_change program, when it has one and it ran. */
  on_change: { ran_at: string; ok: boolean; error: string | null } | null;
}

/** GET /v1/files */
export interface FilesResponse {
  files: FileSummary[];
}

/** GET /v1/files/NAME/content: one rendering, for `credagent render` (a secret: it holds values). */
export interface FileContentResponse {
  name: string;
  path: string;
  content: string;
  /** When the first of the values in it expires. */
  expires_at: string | null;
}
