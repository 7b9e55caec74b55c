import { Hono } from "hono";
import { CredagentError } from "../../errors.ts";
import type { ApiDeps } from "../deps.ts";

/** POST /v1/reload: `credagent reload`, the same as SIGHUP, with the outcome in the answer. */
export function reloadRoutes(deps: ApiDeps): Hono {
  const app = new Hono();
  app.post("/", (c) => {
    if (!deps.config) throw new CredagentError("not_implemented", "this agent cannot reload its config over the socket; send it SIGHUP");
    return c.json(deps.config.reload());
  });
  return app;
}
