import { Hono } from "hono";
import type { EndpointDeps, LoopbackBindings } from "./deps.ts";
import { awsRoutes } from "./aws.ts";
import { azureRoutes } from "./azure.ts";
import { gcpRoutes } from "./gcp.ts";

// The loopback listener's front door. 127.0.0.1 is open to every local user and, through DNS
// rebinding, to web pages. Before a request is read, the admission step (admission/) has let in
// only the agent's user (and root unless deny_root), found by the connection's 4-tuple in the
// kernel's socket table where there is one (Linux). Then, before any protocol:
// - the Host must name the loopback (a rebound name does not), and no Origin or Referer (browsers);
// then each protocol checks what it can: the endpoint secret (Azure, AWS), or nothing more for
// Google, whose protocol has no place for one: it is served only where the uid check runs.

const LOOPBACK_HOST = /^(127\.0\.0\.1|localhost|\[::1\])(:\d{1,5})?$/i;

export function createEndpointsApp(deps: EndpointDeps): Hono<{ Bindings: LoopbackBindings }> {
  // Not strict: the Google libraries ask for ".../default/" and "instance" alike, with and without the slash.
  const app = new Hono<{ Bindings: LoopbackBindings }>({ strict: false });
  app.use(async (c, next) => {
    const host = c.req.header("host");
    if (host === undefined || !LOOPBACK_HOST.test(host)) return c.text("the Host must be 127.0.0.1 or localhost\n", 403);
    if (c.req.header("origin") !== undefined || c.req.header("referer") !== undefined)
      return c.text("requests from web browsers are refused\n", 403);
    await next();
  });
  if (deps.config.azure) app.route("/", azureRoutes(deps));
  if (deps.config.aws) app.route("/", awsRoutes(deps, deps.config.aws));
  if (deps.config.gcp && deps.uidKnown) app.route("/", gcpRoutes(deps, deps.config.gcp));
  app.notFound((c) => c.text("Not Found\n", 404));
  app.onError((_err, c) => c.text("internal error in the agent; its log has the details\n", 500));
  return app;
}
