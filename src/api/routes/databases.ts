import { Hono } from "hono";
import type { DatabasesResponse } from "../../wire/types.ts";
import type { ApiDeps } from "../deps.ts";

/** GET /v1/databases: every database endpoint of the config in force, and whether this agent serves it. No secrets. */
export function databaseRoutes(deps: ApiDeps): Hono {
  const app = new Hono();
  app.get("/", (c) => {
    const body: DatabasesResponse = { databases: deps.databases?.list() ?? [] };
    return c.json(body);
  });
  return app;
}
