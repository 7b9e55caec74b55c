import { Hono } from "hono";
import { CredagentError } from "../../errors.ts";
import { CREDENTIAL_NAME, type SecretChangedResponse } from "../../wire/types.ts";
import type { ApiDeps, ConnectionBindings } from "../deps.ts";

/**
 * `credagent secret set/rm` tells a running agent that a stored secret changed, so that the
 * credentials failing for want of it try again now instead of at their backoff slot (or never,
 * for a missing secret). It hands out nothing and only moves a retry earlier, so it needs no
 * more than the front door's same-user check.
 */
export function secretRoutes(deps: ApiDeps): Hono<{ Bindings: ConnectionBindings }> {
  const app = new Hono<{ Bindings: ConnectionBindings }>();
  app.post("/:name/changed", (c) => {
    const name = c.req.param("name");
    if (!CREDENTIAL_NAME.test(name)) {
      throw new CredagentError("bad_request", "a secret name is 1 to 128 letters, digits, '.', '_' or '-'");
    }
    const body: SecretChangedResponse = { secret: name, retried: deps.registry.secretChanged(name) };
    return c.json(body);
  });
  return app;
}
