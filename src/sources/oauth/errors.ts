import * as oauth from "oauth4webapi";
import { CredagentError, describe } from "../../errors.ts";
import { CannotHealError } from "../source.ts";

/**
 * An identity provider's failure as a message that says what happened and what to do. Never
 * includes a request or response body beyond the OAuth error code and description.
 */
export function providerError(
  err: unknown,
  ctx: { name: string; origin: string; timeoutMs: number; refreshing?: boolean },
): CredagentError {
  if (err instanceof CredagentError) return err;
  if (err instanceof oauth.ResponseBodyError || err instanceof oauth.WWWAuthenticateChallengeError) {
    // A 401 may carry its OAuth error in a WWW-Authenticate challenge instead of the body.
    const fields =
      err instanceof oauth.ResponseBodyError
        ? { error: err.error, description: err.error_description, status: err.status }
        : {
            error: err.cause[0]?.parameters.error ?? "invalid_client",
            description: err.cause[0]?.parameters.error_description,
            status: err.response.status,
          };
    const what = `${fields.error}${fields.description ? `: ${fields.description}` : ""}`;
    if (fields.error === "invalid_grant" && ctx.refreshing) {
      return new CredagentError(
        "login_required",
        `the identity provider refused the refresh token of '${ctx.name}' (${what}); sign in again with: credagent login ${ctx.name}`,
        { cause: err },
      );
    }
    // These answers stay the same until someone changes the config, the stored secret or the
    // client's registration at the provider: they are not retried in the background.
    if (fields.error === "invalid_client" || fields.error === "unauthorized_client") {
      return new CannotHealError(
        "source_failed",
        `the identity provider at ${ctx.origin} rejected the client (${what}); check client_id and client_auth in the config ` +
          `and the secret stored for it (credagent secret set ${ctx.name})`,
        { cause: err },
      );
    }
    if (fields.error === "invalid_scope" || fields.error === "unsupported_grant_type") {
      return new CannotHealError(
        "source_failed",
        `the identity provider at ${ctx.origin} answered HTTP ${fields.status} ${what}; check scope, resource, audience and grant of '${ctx.name}' in the config`,
        { cause: err },
      );
    }
    return new CredagentError("source_failed", `the identity provider at ${ctx.origin} answered HTTP ${fields.status} ${what}`, {
      cause: err,
    });
  }
  // Before the answer is examined: a body cut short by http_timeout reaches us as a parse failure
  // whose cause is the timeout (oauth4webapi reads the body as JSON), and must be called a timeout.
  const timeout = timeoutIn(err);
  if (timeout) {
    const partly = timeout !== err ? "finish its answer" : "answer";
    return new CredagentError(
      "source_failed",
      `the identity provider at ${ctx.origin} did not ${partly} within ${ctx.timeoutMs / 1000}s (http_timeout); ` +
        `check that it is up and reachable from here, or raise http_timeout for '${ctx.name}' in the config`,
      { cause: err },
    );
  }
  if (err instanceof oauth.OperationProcessingError || err instanceof oauth.UnsupportedOperationError) {
    const cause = err.cause instanceof Response ? ` (HTTP ${err.cause.status})` : "";
    return new CredagentError("source_failed", `unexpected answer from the identity provider at ${ctx.origin}${cause}: ${err.message}`, {
      cause: err,
    });
  }
  const code = (err as { code?: string })?.code;
  if (code === "ConnectionRefused" || code === "ECONNREFUSED") {
    return new CredagentError("source_failed", `cannot reach the identity provider at ${ctx.origin}: connection refused`, { cause: err });
  }
  return new CredagentError("source_failed", `cannot reach the identity provider at ${ctx.origin}: ${describe(err)}`, { cause: err });
}

/** The timeout or abort that caused this failure, looking through wrapping errors' causes. */
function timeoutIn(err: unknown): unknown {
  for (let e = err, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const name = (e as Error).name;
    if (name === "TimeoutError" || name === "AbortError") return e;
  }
  return undefined;
}
