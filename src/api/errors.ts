import type { Context } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { CredagentError, errorBody } from "../errors.ts";

export { errorBody };

export function sendError(c: Context, err: CredagentError): Response {
  // Retry-After has whole seconds (RFC 9110 10.2.3): rounded up, so that a client obeying it is not refused again.
  const headers = err.retryAfterMs === undefined ? undefined : { "Retry-After": String(Math.max(1, Math.ceil(err.retryAfterMs / 1000))) };
  return c.json(errorBody(err.code, err.message), err.status as ContentfulStatusCode, headers);
}
