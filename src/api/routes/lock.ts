import { Hono } from "hono";
import { CredagentError } from "../../errors.ts";
import { parseJsonWithSecrets } from "../../secret-json.ts";
import { Secret } from "../../secret.ts";
import type { LockResponse, UnlockResponse } from "../../wire/types.ts";
import type { ApiDeps } from "../deps.ts";

const USAGE = 'the body must be JSON: {"passphrase": "…"}';

/**
 * The passphrase from the body's bytes, never as a string (see secret-json.ts); the body is
 * zeroed. What the runtime read off the socket before us is beyond reach (the README says so).
 */
async function passphraseOf(req: { arrayBuffer(): Promise<ArrayBuffer> }): Promise<Secret> {
  const body = new Uint8Array(await req.arrayBuffer());
  try {
    const { value, secrets } = parseJsonWithSecrets(body, ["passphrase"]);
    const passphrase = secrets.get("passphrase");
    if (!passphrase || Object.keys(value).length > 0) {
      passphrase?.fill(0);
      throw new CredagentError("bad_request", USAGE);
    }
    return new Secret(passphrase);
  } catch (err) {
    if (err instanceof CredagentError) throw err;
    throw new CredagentError("bad_request", USAGE);
  } finally {
    body.fill(0);
  }
}

export function lockRoutes(deps: ApiDeps): Hono {
  const app = new Hono();
  app.post("/lock", async (c) => {
    await deps.lock.lock(await passphraseOf(c.req));
    return c.json({ locked: true } satisfies LockResponse);
  });
  app.post("/unlock", async (c) => {
    const passphrase = await passphraseOf(c.req);
    // The agent lock first: while it holds, the store is closed anyway and opens after it.
    if (!deps.lock.locked && deps.store) {
      if (deps.store.status().state === "locked") {
        await deps.store.unlock(passphrase);
        return c.json({ locked: false, store: "open" } satisfies UnlockResponse);
      }
      passphrase.wipe();
      throw new CredagentError("bad_request", "the agent is not locked, and its secret store does not wait for a passphrase");
    }
    await deps.lock.unlock(passphrase);
    return c.json({ locked: false } satisfies UnlockResponse);
  });
  return app;
}
