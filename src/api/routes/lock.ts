import { Hono } from "hono";
import * as v from "valibot";
import { CredagentError } from "../../errors.ts";
import { Secret } from "../../secret.ts";
import type { ApiDeps } from "../deps.ts";

const body = v.object({ passphrase: v.string() });

async function passphraseOf(req: { json(): Promise<unknown> }): Promise<Secret> {
  let parsed: unknown;
  try {
    parsed = await req.json();
  } catch {
    throw new CredagentError("bad_request", 'the body must be JSON: {"passphrase": "…"}');
  }
  const result = v.safeParse(body, parsed);
  if (!result.success) throw new CredagentError("bad_request", 'the body must be JSON: {"passphrase": "…"}');
  return new Secret(result.output.passphrase);
}

export function lockRoutes(deps: ApiDeps): Hono {
  const app = new Hono();
  app.post("/lock", async (c) => {
    await deps.lock.lock(await passphraseOf(c.req));
    return c.json({ locked: true });
  });
  app.post("/unlock", async (c) => {
    await deps.lock.unlock(await passphraseOf(c.req));
    return c.json({ locked: false });
  });
  return app;
}
