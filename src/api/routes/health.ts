import { Hono } from "hono";
import type { HealthResponse } from "../../wire/types.ts";
import type { ApiDeps } from "../deps.ts";

/** GET /v1/health's answer; the agent's ready line (`credagent start`) carries the same. */
export function healthBody(deps: Pick<ApiDeps, "info" | "lock" | "config" | "store" | "connections">): HealthResponse {
  return {
    status: "ok",
    version: deps.info.version,
    pid: deps.info.pid,
    socket: deps.info.socket,
    started_at: new Date(deps.info.startedAt).toISOString(),
    locked: deps.lock.locked,
    ...(deps.info.service !== undefined ? { service: deps.info.service } : {}),
    ...(deps.info.binaryReplaced ? { binary_replaced: deps.info.binaryReplaced() } : {}),
    ...(deps.info.startedWith ? { started_with: deps.info.startedWith } : {}),
    ...(deps.config ? { config: deps.config.status() } : {}),
    ...(deps.store ? { store: deps.store.status() } : {}),
    ...(deps.connections ? { pgpass: deps.connections.pgpassFile() } : {}),
  };
}

export function healthRoutes(deps: ApiDeps): Hono {
  const app = new Hono();
  app.get("/", (c) => c.json(healthBody(deps)));
  return app;
}
