import type { MiddlewareHandler } from "hono";
import { CredagentError } from "../errors.ts";
import { sendError } from "./errors.ts";

// The front door, before any route (as tailscale's localapi does it): only a local client that
// addressed us as "localhost", and never a browser. A web page can make a browser send requests
// to local sockets through proxies or DNS rebinding; such requests carry an Origin or Referer,
// or a Host other than localhost.
const LOCAL_HOST = /^localhost(:\d{1,5})?$/i;

export function frontDoor(sessionToken: ((authorization: string | undefined) => boolean) | null): MiddlewareHandler {
  return async (c, next) => {
    // The session token: required on transports the kernel cannot vouch for (named pipes), and on
    // the Unix socket when the config asks; compared in constant time by the checker.
    if (sessionToken && !sessionToken(c.req.header("authorization"))) {
      // WWW-Authenticate tells this refusal from an allow rule's: a client holding the token file
      // sends it and tries again only then.
      const refused = sendError(
        c,
        new CredagentError("forbidden", "a valid session token is required (Authorization: Bearer …); 'credagent env' prints it"),
      );
      refused.headers.set("WWW-Authenticate", 'Bearer realm="credagent"');
      return refused;
    }
    const host = c.req.header("host");
    if (host === undefined || !LOCAL_HOST.test(host)) {
      throw new CredagentError("forbidden", "the Host header must be 'localhost'; address the agent as http://localhost/ over its socket");
    }
    if (c.req.header("origin") !== undefined || c.req.header("referer") !== undefined) {
      throw new CredagentError("forbidden", "requests from web browsers (with Origin or Referer) are refused");
    }
    await next();
  };
}
