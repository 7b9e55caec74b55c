import { Hono } from "hono";
import { peerAllowed } from "../identity/peer.ts";
import type { EndpointDeps, LoopbackBindings } from "./deps.ts";
import { awsRoutes } from "./aws.ts";
import { azureRoutes } from "./azure.ts";
import { gcpRoutes } from "./gcp.ts";

// The loopback listener's front door. 127.0.0.1 is open to every local user and, through DNS
// rebinding, to web pages, so before any protocol:
// - the Host must name the loopback (a rebound name does not), and no Origin or Referer (browsers);
// - where the kernel's socket table names the peer's uid (Linux), only the agent's user (and root
//   unless deny_root) gets in, whatever the protocol;
// then each protocol checks what it can: the endpoint secret (Azure, AWS), or nothing more for
// Google, whose protocol has no place for one: it is served only where the uid check runs.

const LOOPBACK_HOST = /^(127\.0\.0\.1|localhost|\[::1\])(:\d{1,5})?$/i;

export function createEndpointsApp(deps: EndpointDeps, onRefused: (uid: number | null) => void): Hono<{ Bindings: LoopbackBindings }> {
  // Not strict: the Google libraries ask for ".../default/" and "instance" alike, with and without the slash.
  const app = new Hono<{ Bindings: LoopbackBindings }>({ strict: false });
  app.use(async (c, next) => {
    const host = c.req.header("host");
    if (host === undefined || !LOOPBACK_HOST.test(host)) return c.text("the Host must be 127.0.0.1 or localhost\n", 403);
    if (c.req.header("origin") !== undefined || c.req.header("referer") !== undefined)
      return c.text("requests from web browsers are refused\n", 403);
    if (c.env && !c.env.sourceAllowed) {
      onRefused(c.env.peerUid);
      return c.text("this endpoint serves connections from 127.0.0.1 only\n", 403);
    }
    if (deps.uidKnown) {
      const uid = c.env?.peerUid ?? null;
      if (uid === null || !peerAllowed({ pid: 0, uid, gid: 0 }, deps.agentUid, deps.denyRoot)) {
        onRefused(uid);
        return c.text("this endpoint serves only the agent's own user\n", 403);
      }
    }
    await next();
  });
  if (deps.config.azure) app.route("/", azureRoutes(deps));
  if (deps.config.aws) app.route("/", awsRoutes(deps, deps.config.aws));
  if (deps.config.gcp && deps.uidKnown) app.route("/", gcpRoutes(deps, deps.config.gcp));
  app.notFound((c) => c.text("Not Found\n", 404));
  app.onError((_err, c) => c.text("internal error in the agent; its log has the details\n", 500));
  return app;
}
