// One error base with a stable string `code` (the API contract) and a `cause`, in the style of
// jose's errors. The message always says what happened and what to do; it never holds a secret.

export const ERROR_STATUS = {
  bad_request: 400,
  forbidden: 403,
  not_found: 404,
  unknown_credential: 404,
  method_not_allowed: 405,
  request_timeout: 408,
  payload_too_large: 413,
  headers_too_large: 431,
  locked: 423,
  too_many_attempts: 429,
  /** Too much already waits (confirm prompts, forced refreshes): answered at once, with Retry-After. */
  too_many_requests: 429,
  unavailable: 503,
  store_unavailable: 503,
  login_required: 503,
  internal: 500,
  // Codes that never cross the socket as HTTP errors but are still stable for the CLI and logs.
  config_invalid: 500,
  unsafe_path: 500,
  agent_not_running: 503,
  agent_running: 409,
  source_failed: 502,
  usage: 400,
  not_implemented: 501,
  // The database proxy (src/dbproxy): the real server refused us, or could not be reached safely.
  upstream_auth: 502,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

export class CredagentError extends Error {
  readonly code: ErrorCode;
  /** When trying again makes sense (too_many_attempts, too_many_requests): sent as Retry-After. */
  readonly retryAfterMs: number | undefined;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown; retryAfterMs?: number }) {
    super(message, options);
    this.code = code;
    this.name = "CredagentError";
    this.retryAfterMs = options?.retryAfterMs;
  }
  get status(): number {
    return ERROR_STATUS[this.code];
  }
}

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === "string" && Object.hasOwn(ERROR_STATUS, value);
}

/** The message of anything thrown, for logs: never the stack of a source's output. */
export function describe(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}

/** The JSON body of an error answer: `{"error":{"code","message"}}` (wire/types.ts ErrorBody). */
export function errorBody(code: ErrorCode | string, message: string): { error: { code: string; message: string } } {
  return { error: { code, message } };
}
