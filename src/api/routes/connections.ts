import { Hono } from "hono";
import { CredagentError } from "../../errors.ts";
import type { ConnectionResponse } from "../../wire/types.ts";
import type { Actor } from "../../identity/actor.ts";
import type { ApiDeps } from "../deps.ts";
import { parseMinValid, permitted } from "./credentials.ts";

/**
 * GET /v1/connections/NAME: the connection string rendered from its credential's current parts.
 * The credential's allow rules and confirm apply, exactly as to the credential itself.
 */
export function connectionRoutes(deps: ApiDeps): Hono<{ Bindings: Actor }> {
  const app = new Hono<{ Bindings: Actor }>();
  app.get("/:name", async (c) => {
    if (!deps.connections) throw new CredagentError("not_found", "this agent has no connections");
    const connection = deps.connections.get(c.req.param("name"));
    const credential = await permitted(deps, connection.credential, "fetch", c.env);
    const token = await credential.get(parseMinValid(c.req.query("min_valid")));
    const body: ConnectionResponse = {
      name: connection.name,
      credential: connection.credential,
      connection_string: deps.connections.render(connection, token),
      expires_at: new Date(token.expiresAt).toISOString(),
      expires_in: Math.max(0, Math.floor((token.expiresAt - deps.now()) / 1000)),
    };
    return c.json(body, 200, { "Cache-Control": "no-store" });
  });
  return app;
}
