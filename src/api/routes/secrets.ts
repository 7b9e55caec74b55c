import { Hono } from "hono";
import { CredagentError } from "../../errors.ts";
import { CREDENTIAL_NAME, type SecretChangedResponse } from "../../wire/types.ts";
import type { Actor } from "../../identity/actor.ts";
import type { ApiDeps } from "../deps.ts";
import { within } from "../../time/clock.ts";

/**
 * `credagent secret set/rm` tells a running agent that a stored secret changed, so that the
 * credentials failing for want of it try again now instead of at their backoff slot (or never,
 * for a missing secret), and the files the agent keeps that hold such a credential are rewritten
 * with the new value at once. It hands out nothing and only moves a fetch earlier, so it needs no
 * more than the front door's same-user check.
 */
const REWRITE_WAIT_MS = 3_000;

export function secretRoutes(deps: ApiDeps): Hono<{ Bindings: Actor }> {
  const app = new Hono<{ Bindings: Actor }>();
  app.post("/:name/changed", async (c) => {
    const name = c.req.param("name");
    if (!CREDENTIAL_NAME.test(name)) {
      throw new CredagentError("bad_request", "a secret name is 1 to 128 letters, digits, '.', '_' or '-'");
    }
    const retried = deps.registry.secretChanged(name);
    // Never while locked: a lock holds no token, and a changed secret must not bring one back.
    const refreshing = deps.lock.locked ? { names: [], settled: Promise.resolve() } : deps.registry.refreshKeptFresh(name, retried);
    // Answered once they are rewritten (so a script may use the file next), or after a few seconds
    // for a slow source (within the CLI's wait for this answer): they are rewritten when it answers.
    await within(refreshing.settled, REWRITE_WAIT_MS);
    const body: SecretChangedResponse = { secret: name, retried, refreshed: refreshing.names };
    return c.json(body);
  });
  return app;
}
