import { Hono } from "hono";
import { CredagentError } from "../../errors.ts";
import type { ShutdownResponse } from "../../wire/types.ts";
import type { ApiDeps } from "../deps.ts";

/**
 * POST /v1/shutdown: `credagent stop` where there is no signal to send (Windows, whose processes
 * get no SIGTERM): the agent answers, then stops as on SIGTERM, its orderly shutdown included.
 */
export function shutdownRoutes(deps: ApiDeps): Hono {
  const app = new Hono();
  app.post("/", (c) => {
    if (!deps.shutdown) throw new CredagentError("not_implemented", "this agent is stopped with a signal");
    // A moment after the answer is on its way (the shutdown closes connections it finds idle).
    setTimeout(() => deps.shutdown?.("stop request"), 100);
    return c.json({ stopping: true, pid: deps.info.pid } satisfies ShutdownResponse);
  });
  return app;
}
