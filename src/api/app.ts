import { Hono, type MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import { CredagentError } from "../errors.ts";
import { API_PREFIX } from "../wire/types.ts";
import type { ApiDeps } from "./deps.ts";
import { errorBody, sendError } from "./errors.ts";
import { frontDoor } from "./guard.ts";
import { approvalRoutes } from "./routes/approvals.ts";
import { credentialRoutes } from "./routes/credentials.ts";
import { healthRoutes } from "./routes/health.ts";
import { lockRoutes } from "./routes/lock.ts";

export const MAX_BODY_BYTES = 64 * 1024;

/** The agent's HTTP API. Runtime-free: the server hands requests in, tests use app.request(). */
export function createApp(deps: ApiDeps, onInternalError: (err: unknown) => void): Hono {
  const app = new Hono();
  app.use(frontDoor(deps.sessionToken));
  app.use(
    bodyLimit({
      maxSize: MAX_BODY_BYTES,
      // The rest of the body is never read, so the connection cannot carry another request.
      onError: (c) =>
        c.json(errorBody("payload_too_large", `request bodies are limited to ${MAX_BODY_BYTES} bytes`), 413, { Connection: "close" }),
    }),
  );
  app.route(`${API_PREFIX}/health`, healthRoutes(deps));
  const refuseWhenLocked: MiddlewareHandler = async (_c, next) => {
    if (deps.lock.locked) throw new CredagentError("locked", "the agent is locked; 'credagent unlock' unlocks it");
    await next();
  };
  app.use(`${API_PREFIX}/credentials`, refuseWhenLocked);
  app.use(`${API_PREFIX}/credentials/*`, refuseWhenLocked);
  app.route(`${API_PREFIX}/credentials`, credentialRoutes(deps));
  app.route(API_PREFIX, lockRoutes(deps));
  app.route(`${API_PREFIX}/approvals`, approvalRoutes(deps));

  app.notFound((c) => {
    const known = /^\/v1\/(health|lock|unlock|approvals(\/[^/]+)?|credentials(\/[^/]+(\/(refresh|login))?)?)\/?$/.test(c.req.path);
    if (known) return c.json(errorBody("method_not_allowed", `${c.req.method} is not allowed on ${c.req.path}`), 405);
    return c.json(errorBody("not_found", `no such endpoint: ${c.req.path}; see the API reference in the README`), 404);
  });
  app.onError((err, c) => {
    if (err instanceof CredagentError) return sendError(c, err);
    onInternalError(err);
    return c.json(errorBody("internal", "internal error in the agent; its log has the details"), 500);
  });
  return app;
}
