import { readFileSync } from "node:fs";
import { CredagentError, isErrorCode } from "../errors.ts";
import type { Secret } from "../secret.ts";
import type { CredentialListResponse, ErrorBody, HealthResponse, LoginStartResponse, LoginStatusResponse, TokenResponse } from "../wire/types.ts";

/** The only way the CLI reaches the agent: typed calls over its socket. */
export class AgentClient {
  #authorization: string | undefined;

  constructor(
    readonly socketPath: string,
    private readonly timeoutMs = 60_000,
    /** The agent's session token file; sent when it exists (required on pipes, optional on sockets). */
    private readonly tokenPath = `${socketPath}.token`,
  ) {}

  #sessionHeader(): Record<string, string> {
    // Read until found: `start` probes before the agent (and its token file) exists.
    if (this.#authorization === undefined) {
      try {
        this.#authorization = `Bearer ${readFileSync(this.tokenPath, "utf8").trim()}`;
      } catch {
        // no token file (yet): send none
      }
    }
    return this.#authorization ? { authorization: this.#authorization } : {};
  }

  health(): Promise<HealthResponse> {
    return this.#request("GET", "/v1/health");
  }

  list(): Promise<CredentialListResponse> {
    return this.#request("GET", "/v1/credentials");
  }

  token(name: string, minValidSeconds?: number): Promise<TokenResponse> {
    const query = minValidSeconds === undefined ? "" : `?min_valid=${minValidSeconds}`;
    return this.#request("GET", `/v1/credentials/${encodeURIComponent(name)}${query}`);
  }

  refresh(name: string): Promise<TokenResponse> {
    return this.#request("POST", `/v1/credentials/${encodeURIComponent(name)}/refresh`);
  }

  startLogin(name: string): Promise<LoginStartResponse> {
    return this.#request("POST", `/v1/credentials/${encodeURIComponent(name)}/login`);
  }

  loginStatus(name: string): Promise<LoginStatusResponse> {
    return this.#request("GET", `/v1/credentials/${encodeURIComponent(name)}/login`);
  }

  approvals(): Promise<{ approvals: Array<{ id: string; credential: string; exe: string; pid: number; since: string }> }> {
    return this.#request("GET", "/v1/approvals");
  }

  answerApproval(id: string, approve: boolean): Promise<{ id: string; approved: boolean }> {
    return this.#request("POST", `/v1/approvals/${encodeURIComponent(id)}`, { approve });
  }

  lock(passphrase: Secret): Promise<{ locked: boolean }> {
    return this.#request("POST", "/v1/lock", { passphrase: passphrase.reveal() });
  }

  unlock(passphrase: Secret): Promise<{ locked: boolean }> {
    return this.#request("POST", "/v1/unlock", { passphrase: passphrase.reveal() });
  }

  async #request<T>(method: string, path: string, body?: unknown): Promise<T> {
    let response: Response;
    try {
      response = await fetch(`http://localhost${path}`, {
        method,
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        headers: { ...this.#sessionHeader(), ...(body === undefined ? {} : { "content-type": "application/json" }) },
        unix: this.socketPath,
        signal: AbortSignal.timeout(this.timeoutMs),
        keepalive: false,
      });
    } catch (err) {
      throw this.#connectionError(err);
    }
    let answer: unknown;
    try {
      answer = await response.json();
    } catch (err) {
      throw new CredagentError("internal", `the agent at ${this.socketPath} sent a response that is not JSON (HTTP ${response.status})`, { cause: err });
    }
    if (!response.ok) {
      const error = (answer as Partial<ErrorBody>).error;
      const code = isErrorCode(error?.code) ? error.code : "internal";
      throw new CredagentError(code, error?.message ?? `the agent answered HTTP ${response.status}`);
    }
    return answer as T;
  }

  #connectionError(err: unknown): CredagentError {
    const code = (err as { code?: string }).code;
    if (code === "ENOENT" || code === "ECONNREFUSED" || code === "FailedToOpenSocket" || code === "ConnectionRefused") {
      return new CredagentError(
        "agent_not_running",
        `no agent is answering at ${this.socketPath}; start one with: eval "$(credagent start)"`,
        { cause: err },
      );
    }
    if ((err as Error).name === "TimeoutError") {
      return new CredagentError("unavailable", `the agent at ${this.socketPath} did not answer within ${this.timeoutMs / 1000}s`, { cause: err });
    }
    return new CredagentError("agent_not_running", `cannot reach the agent at ${this.socketPath}: ${(err as Error).message}`, { cause: err });
  }
}
