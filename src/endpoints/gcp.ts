import { Hono, type Context, type MiddlewareHandler } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { secretJsonResponse, secretTextResponse } from "../http/secret-response.ts";
import type { EndpointDeps, LoopbackBindings } from "./deps.ts";
import { endpointToken, messageOf, statusOf } from "./token.ts";

// The part of the Google Compute Engine metadata server that the client libraries and gcloud use
// to find it, to learn the project and the service account, and to get its tokens, at
// GCE_METADATA_HOST (GCE_METADATA_ROOT for google-auth 1.x and gcloud):
//   /                                     Python's ping (GCE_METADATA_IP)
//   /computeMetadata/v1/instance          Node's isAvailable()
//   /computeMetadata/v1/project/{project-id,numeric-project-id}   gcloud takes the server for real
//                                         only when numeric-project-id answers digits
//   /computeMetadata/v1/universe/universe-domain
//   /computeMetadata/v1/instance/service-accounts/[?recursive=true]
//   /computeMetadata/v1/instance/service-accounts/default/[?recursive=true]
//   /computeMetadata/v1/instance/service-accounts/default/{aliases,email,scopes}
//   /computeMetadata/v1/instance/service-accounts/default/token[?scopes=…]
//   /computeMetadata/v1/instance/service-accounts/default/identity?audience=A[&format=full][&licenses=…]
// As the real server does: every answer carries Metadata-Flavor: Google (the libraries reject
// answers without it) and its Server header, text answers are application/text and JSON ones
// exactly application/json (google-auth 1.x compares the whole value), a request without
// Metadata-Flavor: Google is refused (a browser cannot add it to a simple request), and so is
// one with X-Forwarded-For (a proxy relaying someone else's request).

const FLAVOR = "Metadata-Flavor";
const SERVER_HEADERS = { [FLAVOR]: "Google", Server: "Metadata Server for VM", "X-XSS-Protection": "0", "X-Frame-Options": "SAMEORIGIN" };
const V1 = "/computeMetadata/v1";
const DEFAULT_SCOPE = "https://www.googleapis.com/auth/cloud-platform";
const SA = `${V1}/instance/service-accounts`;

export function gcpRoutes(deps: EndpointDeps, credential: string): Hono<{ Bindings: LoopbackBindings }> {
  // Not strict: the libraries ask for ".../default/" and "instance" alike, with and without the slash.
  const app = new Hono<{ Bindings: LoopbackBindings }>({ strict: false });
  const { gcpEmail: email, gcpProject: project, gcpProjectNumber: projectNumber, gcpIdToken: idTokens } = deps.config;
  // On the metadata server's paths only: the listener's other protocols share the root.
  const flavor: MiddlewareHandler = async (c, next) => {
    if (c.req.header(FLAVOR) !== "Google") return text(c, 403, "Missing required header: Metadata-Flavor: Google\n");
    if (c.req.header("x-forwarded-for") !== undefined) return text(c, 403, "Requests with X-Forwarded-For are refused\n");
    await next();
    for (const [name, value] of Object.entries(SERVER_HEADERS)) c.res.headers.set(name, value);
  };
  app.use("/", flavor);
  app.use("/computeMetadata/*", flavor);
  const account = (name: string) => name === "default" || (email !== undefined && name === email);
  const info = () => ({ aliases: ["default"], email: email ?? "default", scopes: [DEFAULT_SCOPE] });
  const peer = (c: Context<{ Bindings: LoopbackBindings }>) => ({ uid: c.env?.uid ?? null, protocol: "gcp" as const });

  app.get("/", (c) => text(c, 200, "computeMetadata/\n"));
  app.get(V1, (c) => text(c, 200, "instance/\nproject/\nuniverse/\n"));
  app.get(`${V1}/instance`, (c) => text(c, 200, "service-accounts/\n"));
  app.get(`${V1}/project`, (c) => text(c, 200, "numeric-project-id\nproject-id\n"));
  app.get(`${V1}/project/project-id`, (c) =>
    project ? text(c, 200, project) : text(c, 404, "no project: set [endpoints] gcp_project in credagent's config\n"),
  );
  app.get(`${V1}/project/numeric-project-id`, (c) =>
    projectNumber
      ? text(c, 200, projectNumber)
      : text(c, 404, "no project number: set [endpoints] gcp_project_number in credagent's config (gcloud needs it)\n"),
  );
  app.get(`${V1}/universe/universe-domain`, (c) => text(c, 200, "googleapis.com"));
  app.get(SA, (c) => {
    // gcloud lists the accounts as the real server does: by alias and by email.
    if (c.req.query("recursive") === "true") return c.json(email ? { default: info(), [email]: info() } : { default: info() });
    return text(c, 200, email ? `default/\n${email}/\n` : "default/\n");
  });
  app.get(`${SA}/:account`, (c) => {
    if (!account(c.req.param("account"))) return text(c, 404, "no such service account\n");
    if (c.req.query("recursive") === "true") return c.json(info());
    return text(c, 200, "aliases\nemail\nidentity\nscopes\ntoken\n");
  });
  app.get(`${SA}/:account/aliases`, (c) =>
    account(c.req.param("account")) ? text(c, 200, "default\n") : text(c, 404, "no such service account\n"),
  );
  app.get(`${SA}/:account/email`, (c) => {
    if (!account(c.req.param("account")) || !email) return text(c, 404, "no email: set [endpoints] gcp_email in credagent's config\n");
    return text(c, 200, email);
  });
  app.get(`${SA}/:account/scopes`, (c) =>
    account(c.req.param("account")) ? text(c, 200, `${DEFAULT_SCOPE}\n`) : text(c, 404, "no such service account\n"),
  );
  // ?scopes=… is taken and not checked: the token is the configured credential's (its own scopes).
  app.get(`${SA}/:account/token`, async (c) => {
    if (!account(c.req.param("account"))) return text(c, 404, "no such service account\n");
    try {
      const token = await endpointToken(deps, credential, peer(c), c.req.method);
      return secretJsonResponse(
        {
          access_token: token.value,
          expires_in: Math.max(0, Math.floor((token.expiresAt - deps.now()) / 1000)),
          token_type: token.tokenType,
        },
        SERVER_HEADERS,
      );
    } catch (err) {
      return text(c, statusOf(err), `${messageOf(err)}\n`);
    }
  });
  // An ID token (a JWT) for the audience asked, from the oauth2 credential gcp_id_token names.
  // format=full asks Google for its instance claims, which only Google can sign: the token is the
  // provider's whatever the format.
  app.get(`${SA}/:account/identity`, async (c) => {
    if (!account(c.req.param("account"))) return text(c, 404, "no such service account\n");
    const audience = c.req.query("audience");
    if (!audience) return text(c, 400, "non-empty audience parameter required\n");
    const format = c.req.query("format");
    if (format !== undefined && format !== "standard" && format !== "full") return text(c, 400, "format must be standard or full\n");
    if (!idTokens) {
      return text(
        c,
        404,
        "no ID tokens: set [endpoints] gcp_id_token to an oauth2 credential whose identity provider issues them (or make gcp one)\n",
      );
    }
    try {
      const token = await endpointToken(deps, idTokens, peer(c), c.req.method, (credential) => credential.idToken(audience));
      return secretTextResponse(token.value, { "Content-Type": "application/text", ...SERVER_HEADERS });
    } catch (err) {
      return text(c, statusOf(err), `${messageOf(err)}\n`);
    }
  });
  return app;
}

function text(c: Context, status: number, body: string): Response {
  return c.body(body, status as ContentfulStatusCode, {
    "Content-Type": "application/text",
    ...SERVER_HEADERS,
    ...(status === 405 ? { Allow: "GET" } : {}),
  });
}
