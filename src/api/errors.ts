import type { Context } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { CredagentError, type ErrorCode } from "../errors.ts";
import type { ErrorBody } from "../wire/types.ts";

export function errorBody(code: ErrorCode | string, message: string): ErrorBody {
  return { error: { code, message } };
}

export function sendError(c: Context, err: CredagentError): Response {
  return c.json(errorBody(err.code, err.message), err.status as ContentfulStatusCode);
}
