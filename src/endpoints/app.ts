import { Hono } from "hono";
import type { EndpointDeps, LoopbackBindings } from "./deps.ts";
import { awsRoutes } from "./aws.ts";
import { azureRoutes } from "./azure.ts";
import { azureImdsRoutes } from "./azure-imds.ts";
import { gcpRoutes } from "./gcp.ts";

// The loopback listener's front door. 127.0.0.1 is open to every local user and, through DNS
// rebinding, to web pages. Before a request is read, the admission step (admission/) has let in
// only the agent's user (and root unless deny_root), found by the connection's 4-tuple in the
// kernel's socket table where there is one (Linux). Then, before any protocol:
// - the Host must name the loopback (a rebound name does not), and no Origin or Referer (browsers);
// - no X-Forwarded-For: a proxy relaying someone else's request (IMDS and the metadata server refuse it too);
// - GET, HEAD and POST only (Cloud Shell's token request is a POST);
// then each protocol checks what it can: the endpoint secret (Azure App Service, AWS), or nothing
// more for the protocols that have no place for one (Google's metadata server, Azure IMDS and
// Cloud Shell): those are served only where the uid check runs.

const LOOPBACK_HOST = /^(127\.0\.0\.1|localhost|\[::1\])(:\d{1,5})?$/i;
const METHODS = new Set(["GET", "HEAD", "POST"]);

export function createEndpointsApp(deps: EndpointDeps): Hono<{ Bindings: LoopbackBindings }> {
  // Not strict: the Google libraries ask for ".../default/" and "instance" alike, with and without the slash.
  const app = new Hono<{ Bindings: LoopbackBindings }>({ strict: false });
  app.use(async (c, next) => {
    const host = c.req.header("host");
    if (host === undefined || !LOOPBACK_HOST.test(host)) return c.text("the Host must be 127.0.0.1 or localhost\n", 403);
    if (c.req.header("origin") !== undefined || c.req.header("referer") !== undefined)
      return c.text("requests from web browsers are refused\n", 403);
    if (c.req.header("x-forwarded-for") !== undefined) return c.text("Requests with X-Forwarded-For are refused\n", 403);
    if (!METHODS.has(c.req.method)) return c.text("only GET, HEAD and POST are served here\n", 405, { Allow: "GET, HEAD, POST" });
    await next();
  });
  if (deps.config.azure) app.route("/", azureRoutes(deps));
  if (deps.config.azure && deps.uidKnown) app.route("/", azureImdsRoutes(deps));
  if (deps.config.aws) app.route("/", awsRoutes(deps, deps.config.aws));
  if (deps.config.gcp && deps.uidKnown) app.route("/", gcpRoutes(deps, deps.config.gcp));
  app.notFound((c) => c.text("Not Found\n", 404));
  app.onError((_err, c) => c.text("internal error in the agent; its log has the details\n", 500));
  return app;
}
