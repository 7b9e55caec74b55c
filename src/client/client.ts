import { CredagentError, isErrorCode } from "../errors.ts";
import { currentPathEnv, isWindowsPipe, sessionTokenPath } from "../paths.ts";
import type { Secret } from "../secret.ts";
import {
  API_PREFIX,
  type ApprovalAnswerResponse,
  type ApprovalsResponse,
  type ConnectionResponse,
  type CredentialListResponse,
  type ErrorBody,
  type DatabasesResponse,
  type HealthResponse,
  type LoginStartResponse,
  type NegotiateResponse,
  type LoginStatusResponse,
  type ReloadResponse,
  type SecretChangedResponse,
  type TokenResponse,
  type FileContentResponse,
  type FilesResponse,
  type LockResponse,
  type ShutdownResponse,
  type UnlockResponse,
} from "../wire/types.ts";

/** Pauses between connects refused on an existing socket file (0.5 s in all), then give up. */
const REFUSED_RETRY_MS = [20, 40, 80, 160, 200];
/** How long connects that find the agent's backlog full (EAGAIN) are retried. */
const BACKLOG_FULL_RETRY_MS = 5_000;

/** The only way the CLI reaches the agent: typed calls over its socket. */
export class AgentClient {
  #authorization: string | undefined;

  constructor(
    readonly socketPath: string,
    private readonly timeoutMs = 60_000,
    /**
     * The agent's session token file. On a pipe it is required, and read before the first request.
     * On a Unix socket the kernel vouches for the peer and the token is required only where the
     * config asks (agent.require_session_token): it is read after a 403 and the request sent again,
     * so that the common case does not pay for the read (node:fs at start: BENCHMARKS.md's start-up table).
     */
    private readonly tokenPath = isWindowsPipe(socketPath) ? sessionTokenPath(socketPath, currentPathEnv()) : `${socketPath}.token`,
  ) {}

  async #sessionHeader(): Promise<Record<string, string>> {
    // Read until found: `start` probes before the agent (and its token file) exists.
    if (this.#authorization === undefined && isWindowsPipe(this.socketPath)) this.#authorization = this.#readToken();
    return this.#authorization ? { authorization: this.#authorization } : {};
  }

  #readToken(): string | undefined {
    try {
      // node:fs, not Bun.file: on Windows, Bun.file of a missing file can leave a promise that
      // never settles, and the process then exits, status 0, with nothing said (seen under Wine).
      // Off the common path on sockets, so loading node:fs costs `get` nothing there.
      const text = (require("node:fs") as typeof import("node:fs")).readFileSync(this.tokenPath, "utf8");
      return `Bearer ${text.trim()}`;
    } catch {
      return undefined; // no token file (yet): send none
    }
  }

  /**
   * After a 403 asking for the session token: whether the token file holds another token than the
   * one sent (none, on a socket, until now; or the file of an agent since replaced, when `start`
   * polls while a new agent writes its file). The request is then sent once more with it.
   */
  #tokenReplaced(): boolean {
    const current = this.#readToken();
    if (current === undefined || current === this.#authorization) return false;
    this.#authorization = current;
    return true;
  }

  health(): Promise<HealthResponse> {
    return this.#request("GET", `${API_PREFIX}/health`);
  }

  databases(): Promise<DatabasesResponse> {
    return this.#request("GET", `${API_PREFIX}/databases`);
  }

  list(): Promise<CredentialListResponse> {
    return this.#request("GET", `${API_PREFIX}/credentials`);
  }

  token(name: string, minValidSeconds?: number): Promise<TokenResponse> {
    const query = minValidSeconds === undefined ? "" : `?min_valid=${minValidSeconds}`;
    return this.#request("GET", `${API_PREFIX}/credentials/${encodeURIComponent(name)}${query}`);
  }

  /** A configured connection's string, rendered from its credential (a secret: it holds the password). */
  connection(name: string, minValidSeconds?: number): Promise<ConnectionResponse> {
    const query = minValidSeconds === undefined ? "" : `?min_valid=${minValidSeconds}`;
    return this.#request("GET", `${API_PREFIX}/connections/${encodeURIComponent(name)}${query}`);
  }

  /** The files the agent keeps fresh (names, paths, credentials; no values). */
  files(): Promise<FilesResponse> {
    return this.#request("GET", `${API_PREFIX}/files`);
  }

  /** One rendering of a kept file from fresh values (a secret: it holds them). */
  fileContent(name: string, minValidSeconds?: number): Promise<FileContentResponse> {
    const query = minValidSeconds === undefined ? "" : `?min_valid=${minValidSeconds}`;
    return this.#request("GET", `${API_PREFIX}/files/${encodeURIComponent(name)}/content${query}`);
  }

  /** A kerberos credential's `Authorization: Negotiate …` value for an http(s) URL (a secret). */
  negotiate(name: string, url: string): Promise<NegotiateResponse> {
    return this.#request("GET", `${API_PREFIX}/credentials/${encodeURIComponent(name)}/negotiate?url=${encodeURIComponent(url)}`);
  }

  refresh(name: string): Promise<TokenResponse> {
    return this.#request("POST", `${API_PREFIX}/credentials/${encodeURIComponent(name)}/refresh`);
  }

  /** Tells the agent a stored secret was set or removed: the credentials using it retry now. */
  secretChanged(name: string): Promise<SecretChangedResponse> {
    return this.#request("POST", `${API_PREFIX}/secrets/${encodeURIComponent(name)}/changed`);
  }

  startLogin(name: string): Promise<LoginStartResponse> {
    return this.#request("POST", `${API_PREFIX}/credentials/${encodeURIComponent(name)}/login`);
  }

  loginStatus(name: string): Promise<LoginStatusResponse> {
    return this.#request("GET", `${API_PREFIX}/credentials/${encodeURIComponent(name)}/login`);
  }

  approvals(): Promise<ApprovalsResponse> {
    return this.#request("GET", `${API_PREFIX}/approvals`);
  }

  answerApproval(id: string, approve: boolean): Promise<ApprovalAnswerResponse> {
    return this.#request("POST", `${API_PREFIX}/approvals/${encodeURIComponent(id)}`, { approve });
  }

  lock(passphrase: Secret): Promise<LockResponse> {
    return this.#request("POST", `${API_PREFIX}/lock`, { passphrase: passphrase.reveal() });
  }

  unlock(passphrase: Secret): Promise<UnlockResponse> {
    return this.#request("POST", `${API_PREFIX}/unlock`, { passphrase: passphrase.reveal() });
  }

  /** Asks the agent to stop (its orderly shutdown): how `stop` ends an agent it cannot signal (Windows). */
  shutdown(): Promise<ShutdownResponse> {
    return this.#request("POST", `${API_PREFIX}/shutdown`);
  }

  /** Reads the config file again (the same as SIGHUP); a config_invalid error leaves the old one in force. */
  reload(): Promise<ReloadResponse> {
    return this.#request("POST", `${API_PREFIX}/reload`);
  }

  async #request<T>(method: string, path: string, body?: unknown, retried = false): Promise<T> {
    const init: BunFetchRequestInit = {
      method,
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      headers: { ...(await this.#sessionHeader()), ...(body === undefined ? {} : { "content-type": "application/json" }) },
      unix: this.socketPath,
      signal: AbortSignal.timeout(this.timeoutMs),
      keepalive: false,
    };
    const response = await this.#fetch(`http://localhost${path}`, init);
    let answer: unknown;
    try {
      answer = await response.json();
    } catch (err) {
      if (connectionCode(err) || (err as Error).name === "TimeoutError") throw this.#connectionError(err);
      throw new CredagentError("internal", `the agent at ${this.socketPath} sent a response that is not JSON (HTTP ${response.status})`, {
        cause: err,
      });
    }
    if (response.status === 403 && !retried && response.headers.has("www-authenticate") && this.#tokenReplaced())
      return this.#request(method, path, body, true);
    if (!response.ok) {
      const error = (answer as Partial<ErrorBody>).error;
      const code = isErrorCode(error?.code) ? error.code : "internal";
      throw new CredagentError(code, error?.message ?? `the agent answered HTTP ${response.status}`);
    }
    return answer as T;
  }

  async #fetch(url: string, init: BunFetchRequestInit): Promise<Response> {
    const started = Date.now();
    let refused = 0;
    for (;;) {
      try {
        if (isWindowsPipe(this.socketPath)) {
          const { pipeFetch } = await import("./pipe-fetch.ts");
          return await pipeFetch(
            this.socketPath,
            url,
            init as { method: string; headers: Record<string, string>; body?: string; signal?: AbortSignal },
          );
        }
        return await fetch(url, init);
      } catch (err) {
        // Nothing was sent when a connect fails, so any request may be retried. EAGAIN: the agent
        // listens but its backlog is full (a flood of connections): it drains within moments.
        // ECONNREFUSED on a socket file that exists is a stale socket (no agent), or the same
        // full backlog (Bun reports it either way): a few short retries tell them apart.
        const code = connectionCode(err);
        if (code === "EAGAIN" && Date.now() - started < BACKLOG_FULL_RETRY_MS) {
          await Bun.sleep(10 + Math.random() * 20);
          continue;
        }
        const pause = REFUSED_RETRY_MS[refused++];
        if (code === "ECONNREFUSED" && pause !== undefined && this.#socketFileExists()) {
          await Bun.sleep(pause);
          continue;
        }
        throw this.#connectionError(err);
      }
    }
  }

  #socketFileExists(): boolean {
    try {
      // Only after a refused connect: node:fs is not loaded on the way of a request that works.
      const { lstatSync } = require("node:fs") as typeof import("node:fs");
      return lstatSync(this.socketPath).isSocket();
    } catch {
      return false;
    }
  }

  #connectionError(err: unknown): CredagentError {
    const code = connectionCode(err);
    // Only "nothing listens" means no agent: no socket file, or a file nobody accepts on.
    if (code === "ENOENT" || code === "ECONNREFUSED" || code === "FailedToOpenSocket" || code === "ConnectionRefused") {
      return new CredagentError(
        "agent_not_running",
        `no agent is answering at ${this.socketPath}; start one with: eval "$(credagent start)"`,
        { cause: err },
      );
    }
    if ((err as Error).name === "TimeoutError") {
      return new CredagentError("unavailable", `the agent at ${this.socketPath} did not answer within ${this.timeoutMs / 1000}s`, {
        cause: err,
      });
    }
    if (code === "EAGAIN") {
      return new CredagentError(
        "unavailable",
        `the agent at ${this.socketPath} is running but its connection queue stayed full for ${BACKLOG_FULL_RETRY_MS / 1000}s (a flood of connections); try again, and if it persists see the agent's log`,
        { cause: err },
      );
    }
    // Bun's fetch says ECONNRESET both when the agent resets a connection and when it closes one
    // before answering: either way an agent is there, busy or failing, not absent.
    if (code === "ECONNRESET" || code === "ConnectionClosed" || code === "EPIPE" || code === "UND_ERR_SOCKET") {
      return new CredagentError(
        "unavailable",
        `the agent at ${this.socketPath} closed the connection before answering (${code}); it is running but may be overloaded: try again, and if it persists see the agent's log`,
        { cause: err },
      );
    }
    return new CredagentError("unavailable", `cannot talk to the agent at ${this.socketPath}: ${(err as Error).message}`, { cause: err });
  }
}

/** The transport error code of a failed fetch or body read (Bun puts it on the error itself). */
function connectionCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code ?? (err as { cause?: { code?: unknown } } | null)?.cause?.code;
  return typeof code === "string" ? code : undefined;
}

/** The client's calls, as a type a test's fake can satisfy (the class's private fields make it nominal). */
export type AgentApi = { [K in keyof AgentClient]: AgentClient[K] };
