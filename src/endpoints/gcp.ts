import { Hono, type Context, type MiddlewareHandler } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { secretJsonResponse } from "../secret-json.ts";
import type { EndpointDeps, LoopbackBindings } from "./deps.ts";
import { endpointToken, messageOf, statusOf } from "./token.ts";

// The part of the Google Compute Engine metadata server that the client libraries use to find it
// and to get the default service account's token (gcp-metadata / google-auth-library for Node,
// google-auth for Python, cloud.google.com/go/compute/metadata), at GCE_METADATA_HOST:
//   /                                     Python's ping (GCE_METADATA_IP)
//   /computeMetadata/v1/instance          Node's isAvailable()
//   /computeMetadata/v1/project/project-id
//   /computeMetadata/v1/universe/universe-domain
//   /computeMetadata/v1/instance/service-accounts/default/?recursive=true
//   /computeMetadata/v1/instance/service-accounts/default/{email,scopes,token}
// As the real server does: every answer carries Metadata-Flavor: Google (the libraries reject
// answers without it), a request without that header is refused (a browser cannot add it to a
// simple request), and so is one with X-Forwarded-For (a proxy relaying someone else's request).

const FLAVOR = "Metadata-Flavor";
const V1 = "/computeMetadata/v1";
const DEFAULT_SCOPE = "https://www.googleapis.com/auth/cloud-platform";

export function gcpRoutes(deps: EndpointDeps, credential: string): Hono<{ Bindings: LoopbackBindings }> {
  // Not strict: the libraries ask for ".../default/" and "instance" alike, with and without the slash.
  const app = new Hono<{ Bindings: LoopbackBindings }>({ strict: false });
  const email = deps.config.gcpEmail;
  // On the metadata server's paths only: the listener's other protocols share the root.
  const flavor: MiddlewareHandler = async (c, next) => {
    if (c.req.header(FLAVOR) !== "Google") return text(c, 403, "Missing required header: Metadata-Flavor: Google\n");
    if (c.req.header("x-forwarded-for") !== undefined) return text(c, 403, "Requests with X-Forwarded-For are refused\n");
    await next();
    c.res.headers.set(FLAVOR, "Google");
  };
  app.use("/", flavor);
  app.use("/computeMetadata/*", flavor);
  const account = (name: string) => name === "default" || (email !== undefined && name === email);

  app.get("/", (c) => text(c, 200, "computeMetadata/\n"));
  app.get(V1, (c) => text(c, 200, "instance/\nproject/\nuniverse/\n"));
  app.get(`${V1}/instance`, (c) => text(c, 200, "service-accounts/\n"));
  app.get(`${V1}/project/project-id`, (c) =>
    deps.config.gcpProject
      ? text(c, 200, deps.config.gcpProject)
      : text(c, 404, "no project: set [endpoints] gcp_project in credagent's config\n"),
  );
  app.get(`${V1}/universe/universe-domain`, (c) => text(c, 200, "googleapis.com"));
  app.get(`${V1}/instance/service-accounts`, (c) => text(c, 200, email ? `default/\n${email}/\n` : "default/\n"));
  app.get(`${V1}/instance/service-accounts/:account`, (c) => {
    if (!account(c.req.param("account"))) return text(c, 404, "no such service account\n");
    if (c.req.query("recursive") === "true") return c.json({ aliases: ["default"], email: email ?? "default", scopes: [DEFAULT_SCOPE] });
    return text(c, 200, "aliases\nemail\nscopes\ntoken\n");
  });
  app.get(`${V1}/instance/service-accounts/:account/email`, (c) => {
    if (!account(c.req.param("account")) || !email) return text(c, 404, "no email: set [endpoints] gcp_email in credagent's config\n");
    return text(c, 200, email);
  });
  app.get(`${V1}/instance/service-accounts/:account/scopes`, (c) =>
    account(c.req.param("account")) ? text(c, 200, `${DEFAULT_SCOPE}\n`) : text(c, 404, "no such service account\n"),
  );
  app.get(`${V1}/instance/service-accounts/:account/token`, async (c) => {
    if (!account(c.req.param("account"))) return text(c, 404, "no such service account\n");
    try {
      const token = await endpointToken(deps, credential, { uid: c.env?.uid ?? null, protocol: "gcp" }, c.req.method);
      return secretJsonResponse(
        {
          access_token: token.value,
          expires_in: Math.max(0, Math.floor((token.expiresAt - deps.now()) / 1000)),
          token_type: token.tokenType,
        },
        { [FLAVOR]: "Google" },
      );
    } catch (err) {
      return text(c, statusOf(err), `${messageOf(err)}\n`);
    }
  });
  return app;
}

function text(c: Context, status: number, body: string): Response {
  return c.body(body, status as ContentfulStatusCode, {
    "Content-Type": "application/text",
    [FLAVOR]: "Google",
    ...(status === 405 ? { Allow: "GET" } : {}),
  });
}
