import { Hono } from "hono";
import * as v from "valibot";
import { CredagentError } from "../../errors.ts";
import type { ApprovalAnswerResponse, ApprovalsResponse } from "../../wire/types.ts";
import type { Actor } from "../../identity/actor.ts";
import type { ApiDeps } from "../deps.ts";

const answer = v.object({ approve: v.boolean() });

export function approvalRoutes(deps: ApiDeps): Hono<{ Bindings: Actor }> {
  const app = new Hono<{ Bindings: Actor }>();
  app.get("/", (c) => {
    const body: ApprovalsResponse = {
      approvals: deps.approvals
        .list()
        .map((p) => ({ id: p.id, credential: p.credential, exe: p.exe, pid: p.pid, since: new Date(p.since).toISOString() })),
    };
    return c.json(body);
  });
  app.post("/:id", async (c) => {
    let body: unknown;
    try {
      body = await c.req.json();
    } catch {
      body = undefined;
    }
    const parsed = v.safeParse(answer, body);
    if (!parsed.success) throw new CredagentError("bad_request", 'the body must be JSON: {"approve": true} or {"approve": false}');
    deps.approvals.answer(c.req.param("id"), parsed.output.approve, c.env);
    const reply: ApprovalAnswerResponse = { id: c.req.param("id"), approved: parsed.output.approve };
    return c.json(reply);
  });
  return app;
}
