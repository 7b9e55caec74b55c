import { Hono, type Context, type MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import { CredagentError } from "../errors.ts";
import { API_PREFIX } from "../wire/types.ts";
import type { ApiDeps } from "./deps.ts";
import { errorBody, sendError } from "./errors.ts";
import { frontDoor } from "./guard.ts";
import { approvalRoutes } from "./routes/approvals.ts";
import { connectionRoutes } from "./routes/connections.ts";
import { credentialRoutes } from "./routes/credentials.ts";
import { databaseRoutes } from "./routes/databases.ts";
import { healthRoutes } from "./routes/health.ts";
import { lockRoutes } from "./routes/lock.ts";
import { reloadRoutes } from "./routes/reload.ts";
import { shutdownRoutes } from "./routes/shutdown.ts";
import { secretRoutes } from "./routes/secrets.ts";
import { fileRoutes } from "./routes/files.ts";

export const MAX_BODY_BYTES = 64 * 1024;

/**
 * The methods of each endpoint, for 405 answers and their Allow header (RFC 9110 15.5.6), read from
 * the routes themselves: a route added is in it, and nothing else needs changing.
 */
function endpointsOf(routes: ReadonlyArray<{ method: string; path: string }>): Array<readonly [RegExp, string]> {
  const methods = new Map<string, Set<string>>();
  for (const { method, path } of routes) {
    if (method === "ALL" || path.includes("*")) continue; // middleware
    methods.set(path, (methods.get(path) ?? new Set()).add(method));
  }
  return [...methods].map(([path, set]) => [new RegExp(`^${path.replace(/:[^/]+/g, "[^/]+")}/?$`), [...set].sort().join(", ")] as const);
}

function methodNotAllowed(c: Context, allow: string): Response {
  return c.json(errorBody("method_not_allowed", `${c.req.method} is not allowed on ${c.req.path}; use ${allow}`), 405, { Allow: allow });
}

/** The agent's HTTP API. Runtime-free: the server hands requests in, tests use app.request(). */
export function createApp(deps: ApiDeps, onInternalError: (err: unknown) => void): Hono {
  const app = new Hono();
  // Read once all routes are in (the first request comes after).
  let endpoints: Array<readonly [RegExp, string]> | undefined;
  const allowedOn = (path: string) => (endpoints ??= endpointsOf(app.routes)).find(([pattern]) => pattern.test(path))?.[1];
  app.use(frontDoor(deps.sessionToken));
  // hono answers HEAD by running the GET handler and dropping the body: a HEAD on a credential
  // would fetch a token (run its source, ask for confirmation) for nothing. Only GET does that.
  app.use(async (c, next) => {
    if (c.req.method !== "HEAD") return next();
    const allow = allowedOn(c.req.path);
    if (!allow) return c.json(errorBody("not_found", `no such endpoint: ${c.req.path}; see the API reference in the README`), 404);
    return methodNotAllowed(c, allow);
  });
  app.use(
    bodyLimit({
      maxSize: MAX_BODY_BYTES,
      // The rest of the body is never read, so the connection cannot carry another request.
      onError: (c) =>
        c.json(errorBody("payload_too_large", `request bodies are limited to ${MAX_BODY_BYTES} bytes`), 413, { Connection: "close" }),
    }),
  );
  app.route(`${API_PREFIX}/health`, healthRoutes(deps));
  const refuseWhenLocked: MiddlewareHandler = async (c, next) => {
    // The list (names, sources, states; never a token) stays readable while locked, as `status` shows it.
    const listing = c.req.method === "GET" && c.req.path === `${API_PREFIX}/credentials`;
    if (deps.lock.locked && !listing) throw new CredagentError("locked", "the agent is locked; 'credagent unlock' unlocks it");
    await next();
  };
  app.use(`${API_PREFIX}/credentials/*`, refuseWhenLocked);
  app.use(`${API_PREFIX}/connections/*`, refuseWhenLocked);
  app.route(`${API_PREFIX}/credentials`, credentialRoutes(deps));
  app.route(`${API_PREFIX}/connections`, connectionRoutes(deps));
  app.route(`${API_PREFIX}/databases`, databaseRoutes(deps));
  app.route(API_PREFIX, lockRoutes(deps));
  app.route(`${API_PREFIX}/approvals`, approvalRoutes(deps));
  app.route(`${API_PREFIX}/secrets`, secretRoutes(deps));
  app.route(`${API_PREFIX}/files`, fileRoutes(deps));
  app.route(`${API_PREFIX}/reload`, reloadRoutes(deps));
  app.route(`${API_PREFIX}/shutdown`, shutdownRoutes(deps));

  app.notFound((c) => {
    const allow = allowedOn(c.req.path);
    if (allow) return methodNotAllowed(c, allow);
    return c.json(errorBody("not_found", `no such endpoint: ${c.req.path}; see the API reference in the README`), 404);
  });
  app.onError((err, c) => {
    if (err instanceof CredagentError) return sendError(c, err);
    onInternalError(err);
    return c.json(errorBody("internal", "internal error in the agent; its log has the details"), 500);
  });
  return app;
}
