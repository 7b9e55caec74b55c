// @credagent/client: asks the local credagent agent for a credential over its socket (a Unix socket,
// or a named pipe on Windows). No dependencies: node:http speaks HTTP over either with `socketPath`.
//
// The rule for apps: ask at every new connection (a connection pool's password callback, a driver's
// auth hook), never keep a credential past its expires_at. This client caches each answer in the
// process until shortly before it expires, so asking on every connection costs a map lookup.

import { request } from "node:http";
import { lstatSync, readFileSync } from "node:fs";
import { homedir, userInfo } from "node:os";
import { posix, win32 } from "node:path";

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

/**
 * What the socket path depends on besides the environment. Only for tests: the shared vectors
 * (test/fixtures/socket-paths.json) give every platform's facts on one machine.
 */
export interface PathFacts {
  platform: NodeJS.Platform;
  uid: number;
  /** The OS's user name, when neither USER nor USERNAME gives one. */
  username: () => string;
  /** A real directory (not a link) of this user with no group or other bits. */
  isPrivateDir: (dir: string) => boolean;
}

function hostFacts(): PathFacts {
  const uid = process.getuid?.() ?? -1;
  return { platform: process.platform, uid, username: safeUsername, isPrivateDir: (dir) => isPrivateDir(dir, uid) };
}

/** Where the agent listens: $CRED_SOCK, else the same default as `credagent` itself (src/paths.ts). */
export function defaultSocketPath(env: Record<string, string | undefined> = process.env, facts: PathFacts = hostFacts()): string {
  if (env.CRED_SOCK) return env.CRED_SOCK;
  if (facts.platform === "win32") {
    const user = (env.USER || env.USERNAME || facts.username()).replace(/[\\/:*?"<>|\s]+/g, "-") || "user";
    return `\\\\.\\pipe\\credagent-${user}`;
  }
  const runtime = env.XDG_RUNTIME_DIR;
  if (runtime && runtime.startsWith("/")) return posix.join(runtime, "cred.sock");
  const session = `/run/user/${facts.uid}`;
  if (facts.platform === "linux" && facts.uid >= 0 && facts.isPrivateDir(session)) return posix.join(session, "cred.sock");
  const tmp = env.TMPDIR && env.TMPDIR.startsWith("/") ? env.TMPDIR : "/tmp";
  return posix.join(tmp, `credagent-${facts.uid}`, "cred.sock");
}

function safeUsername(): string {
  try {
    return userInfo().username;
  } catch {
    return "";
  }
}

/** lstat: a link planted at the path does not count. */
function isPrivateDir(dir: string, uid: number): boolean {
  try {
    const st = lstatSync(dir);
    return st.isDirectory() && st.uid === uid && (st.mode & 0o077) === 0;
  } catch {
    return false;
  }
}

/**
 * The session token's file: beside a Unix socket; for a named pipe, in the agent's state directory
 * (%LOCALAPPDATA%\credagent), named after the pipe, as the agent writes it.
 */
export function sessionTokenFile(socketPath: string, env: Record<string, string | undefined> = process.env): string {
  const pipe = /^\\\\[.?]\\pipe\\(.*)$/i.exec(socketPath);
  if (!pipe) return `${socketPath}.token`;
  const leaf = pipe[1]!.replace(/[\\/:*?"<>|]/g, "-");
  return win32.join(env.LOCALAPPDATA ?? win32.join(homedir(), "AppData", "Local"), "credagent", `${leaf}.token`);
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
        this.#sessionToken = readFileSync(sessionTokenFile(this.socketPath, this.#env), "utf8").trim();
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
