import { Hono, type Context } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { CredagentError } from "../errors.ts";
import { encodeJsonWithSecrets } from "../secret-json.ts";
import type { EndpointDeps, LoopbackBindings } from "./deps.ts";
import { AZURE_PATH } from "./info-file.ts";
import { normalizeResource } from "./resource.ts";
import { endpointToken, messageOf, statusOf } from "./token.ts";

// Azure App Service's managed identity protocol (api-version 2019-08-01), which @azure/identity
// (through MSAL's AppService source), azure-identity for Python, .NET, Java and Go all speak when
// IDENTITY_ENDPOINT and IDENTITY_HEADER are set:
//   GET IDENTITY_ENDPOINT?api-version=2019-08-01&resource=R[&client_id=…|&mi_res_id=…]
//   X-IDENTITY-HEADER: IDENTITY_HEADER
// Errors are {statusCode, message}, as App Service answers them: MSAL reads `message` (and
// `error`). MSAL retries 404 and 5xx three times a second apart, so "no such identity" is a 400.

const API_VERSION = "2019-08-01";

export function azureRoutes(deps: EndpointDeps): Hono<{ Bindings: LoopbackBindings }> {
  const app = new Hono<{ Bindings: LoopbackBindings }>();
  app.get(AZURE_PATH, async (c) => {
    if (!deps.secret.matches(c.req.header("x-identity-header"))) {
      return azureError(c, 401, "missing or wrong X-IDENTITY-HEADER: set IDENTITY_HEADER from 'credagent env --sdk'");
    }
    if (c.req.query("api-version") !== API_VERSION) return azureError(c, 400, `api-version must be ${API_VERSION}`);
    const resource = c.req.query("resource");
    if (!resource) return azureError(c, 400, "the resource parameter is required");
    const clientId = c.req.query("client_id");
    let name: string;
    try {
      name = credentialFor(deps, resource, clientId);
    } catch (err) {
      return azureError(c, 400, messageOf(err));
    }
    try {
      const token = await endpointToken(deps, name, { uid: c.env?.uid ?? null, protocol: "azure" }, c.req.method);
      const body = encodeJsonWithSecrets({
        access_token: token.value,
        // Epoch seconds as a string, as App Service sends it; MSAL and the older SDKs parse both.
        expires_on: String(Math.floor(token.expiresAt / 1000)),
        resource,
        token_type: token.tokenType,
        client_id: clientId ?? clientIdOf(deps, name) ?? "",
      });
      setTimeout(() => body.fill(0), 0);
      return new Response(body, { status: 200, headers: { "Content-Type": "application/json", "Cache-Control": "no-store" } });
    } catch (err) {
      return azureError(c, statusOf(err), messageOf(err));
    }
  });
  return app;
}

/** The one credential configured for the resource (and client_id, when the SDK names one). */
function credentialFor(deps: EndpointDeps, resource: string, clientId: string | undefined): string {
  const wanted = normalizeResource(resource);
  let names = deps.registry
    .list()
    .map((credential) => credential.name)
    .filter((name) => deps.registry.definition(name)?.azure?.resource === wanted);
  if (clientId !== undefined) names = names.filter((name) => (clientIdOf(deps, name) ?? clientId) === clientId);
  if (names.length === 0) {
    throw new CredagentError(
      "not_found",
      `no credential is configured for the resource ${wanted}${clientId ? ` and client_id ${clientId}` : ""}: give one resource = "${wanted}"`,
    );
  }
  if (names.length > 1) {
    throw new CredagentError(
      "bad_request",
      `credentials ${names.join(", ")} are all for ${wanted}: keep resource on one of them, or have the program ask with a client_id`,
    );
  }
  return names[0]!;
}

/** An oauth2 credential's client id; other sources have none. */
function clientIdOf(deps: EndpointDeps, name: string): string | undefined {
  return deps.registry.definition(name)?.azure?.clientId;
}

function azureError(c: Context, status: number, message: string): Response {
  return c.json(
    { statusCode: status, message, error: status === 401 ? "unauthorized" : "invalid_request" },
    status as ContentfulStatusCode,
    status === 405 ? { Allow: "GET" } : {},
  );
}
