// @credagent/client: asks the local credagent agent for a credential over its socket (a Unix socket,
// or a named pipe on Windows). No dependencies: node:http speaks HTTP over either with `socketPath`.
//
// The rule for apps: ask at every new connection (a connection pool's password callback, a driver's
// auth hook), never keep a credential past its expires_at. This client caches each answer in the
// process until shortly before it expires, so asking on every connection costs a map lookup.

import { request } from "node:http";
import { readFileSync, statSync } from "node:fs";
import { homedir, userInfo } from "node:os";
import { join } from "node:path";

/** The agent's answer for a credential (GET /v1/credentials/NAME): `token` is the secret. */
export interface Credential {
  name: string;
  token: string;
  token_type: string;
  /** RFC 3339. */
  expires_at: string;
  expires_in: number;
  /** Further parts of multi-part credentials (user name, password, ...), as the agent sends them. */
  [part: string]: unknown;
}

/** An error from the agent (its stable `code`, e.g. not_found, forbidden, locked) or from reaching it. */
export class CredagentError extends Error {
  override name = "CredagentError";
  constructor(
    /** The agent's error code, or agent_not_running / unavailable / timeout when it could not answer. */
    readonly code: string,
    message: string,
    /** The HTTP status the agent answered, when it answered. */
    readonly status?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export interface ClientOptions {
  /** The agent's socket or pipe: default $CRED_SOCK, else the agent's own default path. */
  socketPath?: string;
  /** Sent as `Authorization: Bearer …`: default $CRED_SESSION_TOKEN, else the agent's token file. */
  sessionToken?: string;
  /** How long one request may take, including the agent's wait for a refresh (default 30 s). */
  timeoutMs?: number;
  /** A cached answer is used until this long before its expiry (default 60 s). */
  refreshMarginMs?: number;
  /** Only for tests: the environment and clock to use. */
  env?: Record<string, string | undefined>;
  now?: () => number;
}

export interface GetOptions {
  /** The credential must stay valid at least this many seconds (the agent refreshes it early if needed). */
  minValid?: number;
}

/** Where the agent listens by default: the same rules as `credagent` itself. */
export function defaultSocketPath(env: Record<string, string | undefined> = process.env): string {
  if (env.CRED_SOCK) return env.CRED_SOCK;
  if (process.platform === "win32") {
    const user = (env.USERNAME || safeUsername()).replace(/[\\/:*?"<>|\s]+/g, "-") || "user";
    return `\\\\.\\pipe\\credagent-${user}`;
  }
  const runtime = env.XDG_RUNTIME_DIR;
  if (runtime && runtime.startsWith("/")) return join(runtime, "cred.sock");
  const uid = process.getuid?.() ?? 0;
  const session = `/run/user/${uid}`;
  if (process.platform === "linux" && isPrivateDir(session, uid)) return join(session, "cred.sock");
  const tmp = env.TMPDIR && env.TMPDIR.startsWith("/") ? env.TMPDIR : "/tmp";
  return join(tmp, `credagent-${uid}`, "cred.sock");
}

function safeUsername(): string {
  try {
    return userInfo().username;
  } catch {
    return "";
  }
}

function isPrivateDir(dir: string, uid: number): boolean {
  try {
    const st = statSync(dir);
    return st.isDirectory() && st.uid === uid && (st.mode & 0o077) === 0;
  } catch {
    return false;
  }
}

function tokenFile(socketPath: string, env: Record<string, string | undefined>): string {
  if (/^\\\\[.?]\\pipe\\/i.test(socketPath))
    return join(env.LOCALAPPDATA ?? join(homedir(), "AppData", "Local"), "credagent", "session-token");
  return `${socketPath}.token`;
}

interface CacheEntry {
  credential: Credential;
  expiresAtMs: number;
}

export class CredagentClient {
  readonly socketPath: string;
  readonly #env: Record<string, string | undefined>;
  readonly #timeoutMs: number;
  readonly #marginMs: number;
  readonly #now: () => number;
  #sessionToken: string | undefined;
  readonly #cache = new Map<string, CacheEntry>();
  readonly #pending = new Map<string, Promise<Credential>>();

  constructor(options: ClientOptions = {}) {
    this.#env = options.env ?? process.env;
    this.socketPath = options.socketPath ?? defaultSocketPath(this.#env);
    this.#sessionToken = options.sessionToken ?? this.#env.CRED_SESSION_TOKEN;
    this.#timeoutMs = options.timeoutMs ?? 30_000;
    this.#marginMs = options.refreshMarginMs ?? 60_000;
    this.#now = options.now ?? Date.now;
  }

  /**
   * The credential NAME, from this process's cache while it stays valid for the margin (and for
   * `minValid`), else from the agent. Concurrent callers asking for the same one share one request.
   */
  async getCredential(name: string, options: GetOptions = {}): Promise<Credential> {
    const minValidMs = (options.minValid ?? 0) * 1000;
    const cached = this.#cache.get(name);
    if (cached && cached.expiresAtMs - Math.max(this.#marginMs, minValidMs) > this.#now()) return cached.credential;
    const key = `${name}\0${options.minValid ?? ""}`;
    let pending = this.#pending.get(key);
    if (!pending) {
      pending = this.#fetch(name, options.minValid).finally(() => this.#pending.delete(key));
      this.#pending.set(key, pending);
    }
    return pending;
  }

  /** Forgets cached answers (all, or one credential's): the next call asks the agent. */
  clear(name?: string): void {
    if (name === undefined) this.#cache.clear();
    else this.#cache.delete(name);
  }

  async #fetch(name: string, minValid: number | undefined): Promise<Credential> {
    const query = minValid === undefined ? "" : `?min_valid=${Math.ceil(minValid)}`;
    const credential = (await this.#request("GET", `/v1/credentials/${encodeURIComponent(name)}${query}`)) as Credential;
    const expiresAtMs = Date.parse(credential.expires_at);
    if (Number.isFinite(expiresAtMs)) this.#cache.set(name, { credential, expiresAtMs });
    return credential;
  }

  #authorization(): Record<string, string> {
    if (this.#sessionToken === undefined) {
      try {
        this.#sessionToken = readFileSync(tokenFile(this.socketPath, this.#env), "utf8").trim();
      } catch {
        // No token file: the agent's Unix socket accepts the user's own processes without one.
      }
    }
    return this.#sessionToken ? { authorization: `Bearer ${this.#sessionToken}` } : {};
  }

  #request(method: string, path: string): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const req = request(
        { socketPath: this.socketPath, path, method, headers: { host: "localhost", ...this.#authorization() }, timeout: this.#timeoutMs },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (chunk: Buffer) => chunks.push(chunk));
          res.on("error", reject);
          res.on("end", () => {
            const text = Buffer.concat(chunks).toString("utf8");
            let body: unknown;
            try {
              body = JSON.parse(text);
            } catch (err) {
              return reject(
                new CredagentError(
                  "internal",
                  `the agent at ${this.socketPath} sent a response that is not JSON (HTTP ${res.statusCode})`,
                  res.statusCode,
                  { cause: err },
                ),
              );
            }
            const status = res.statusCode ?? 0;
            if (status >= 200 && status < 300) return resolve(body);
            const error = (body as { error?: { code?: unknown; message?: unknown } }).error;
            reject(
              new CredagentError(
                typeof error?.code === "string" ? error.code : "internal",
                typeof error?.message === "string" ? error.message : `the agent answered HTTP ${status}`,
                status,
              ),
            );
          });
        },
      );
      req.on("timeout", () =>
        req.destroy(new CredagentError("timeout", `the agent at ${this.socketPath} did not answer within ${this.#timeoutMs / 1000} s`)),
      );
      req.on("error", (err: NodeJS.ErrnoException) => {
        if (err instanceof CredagentError) return reject(err);
        if (err.code === "ENOENT" || err.code === "ECONNREFUSED") {
          return reject(
            new CredagentError(
              "agent_not_running",
              `no agent is answering at ${this.socketPath}; start one with: eval "$(credagent start)"`,
              undefined,
              { cause: err },
            ),
          );
        }
        reject(
          new CredagentError("unavailable", `cannot talk to the agent at ${this.socketPath}: ${err.message}`, undefined, { cause: err }),
        );
      });
      req.end();
    });
  }
}

let shared: CredagentClient | undefined;

/** getCredential on one client per process (default socket and session token). */
export function getCredential(name: string, options: GetOptions = {}): Promise<Credential> {
  shared ??= new CredagentClient();
  return shared.getCredential(name, options);
}
