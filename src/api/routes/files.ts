import { Hono } from "hono";
import { CredagentError } from "../../errors.ts";
import type { Token } from "../../sources/source.ts";
import type { FileContentResponse, FilesResponse } from "../../wire/types.ts";
import type { Actor } from "../../identity/actor.ts";
import type { ApiDeps } from "../deps.ts";
import { parseMinValid, permitted } from "./credentials.ts";

/**
 * GET /v1/files: the kept files, where they are and which credentials they hold (never values).
 * GET /v1/files/NAME/content: one rendering from fresh values (`credagent render`), under the allow
 * rules and confirm of every credential in it, each fetch audited as a request for it.
 */
export function fileRoutes(deps: ApiDeps): Hono<{ Bindings: Actor }> {
  const app = new Hono<{ Bindings: Actor }>();
  app.get("/", (c) => {
    const body: FilesResponse = { files: deps.files?.list() ?? [] };
    return c.json(body);
  });
  app.get("/:name/content", async (c) => {
    if (!deps.files) throw new CredagentError("not_found", "this agent keeps no files");
    if (deps.lock.locked) throw new CredagentError("locked", "the agent is locked; 'credagent unlock' unlocks it");
    const file = deps.files.file(c.req.param("name"));
    const minValidMs = parseMinValid(c.req.query("min_valid"));
    const tokens = new Map<string, Token>();
    for (const name of file.credentials) {
      const credential = await permitted(deps, name, "fetch", c.env);
      tokens.set(name, await credential.get(minValidMs));
    }
    const connections = deps.connections;
    let content: string;
    try {
      content = file.render(
        {
          token: (name) => tokens.get(name),
          connection: (name, token) => connections!.render(connections!.get(name), token),
          credentialOf: (name) => connections!.get(name).credential,
        },
        false,
      );
    } catch (err) {
      if (err instanceof CredagentError) throw err;
      throw new CredagentError("unavailable", `[files.${file.name}]: ${(err as Error).message}`, { cause: err });
    }
    const expiries = [...tokens.values()].map((t) => t.expiresAt);
    const body: FileContentResponse = {
      name: file.name,
      path: file.path,
      content,
      expires_at: expiries.length === 0 ? null : new Date(Math.min(...expiries)).toISOString(),
    };
    return c.json(body, 200, { "Cache-Control": "no-store" });
  });
  return app;
}
