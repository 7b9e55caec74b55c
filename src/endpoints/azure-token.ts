import type { Context } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { CredagentError } from "../errors.ts";
import { secretJsonResponse } from "../http/secret-response.ts";
import type { EndpointDeps } from "./deps.ts";
import { normalizeResource } from "./resource.ts";
import { endpointToken, messageOf, statusOf } from "./token.ts";

// What every Azure managed-identity protocol shares once its own guard has let a request in:
// finding the credential for a resource (and client id), the token answer, and the error answer.
// The protocols differ in how they are asked (src/endpoints/azure.ts, azure-imds.ts), not in what
// they answer, so one answer holds what each client reads:
// - expires_on in epoch seconds as a string: IMDS, Cloud Shell and App Service 2019 send that;
//   App Service 2017-09-01 sent a date ("11/05/2021 15:18:31 +00:00"), but every parser reading
//   it takes epoch seconds first (azure-cli's _normalize_expires_on, azure-identity's
//   AzureML/App Service _parse_expires_on, since Azure ML answers the same protocol with them),
//   while MSAL's (Node: BaseManagedIdentitySource) takes only numbers and ISO dates;
// - expires_in (IMDS, Cloud Shell: some clients compute expiry from it), resource, token_type,
//   client_id.
// Errors carry {error, error_description} as IMDS answers them, and {statusCode, message} as App
// Service does: MSAL reads message or error_description, azure-identity error_description.

/** The one credential configured for the resource (and client_id, when the program names one). */
export function azureCredentialFor(deps: EndpointDeps, resource: string, clientId: string | undefined): string {
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

/**
 * The token for resource (and clientId) as an Azure managed identity answer, or the error answer.
 * "Not configured" is a 400, never a 404: MSAL and azure-identity retry 404s (IMDS's "identity not
 * yet assigned") for seconds, and azure-identity reads a 400 from IMDS as "no identity here".
 */
export async function azureTokenAnswer(
  c: Context,
  deps: EndpointDeps,
  request: { resource: string | undefined; clientId: string | undefined; uid: number | null; form: string },
): Promise<Response> {
  if (!request.resource) return azureError(c, 400, "the resource parameter is required");
  let name: string;
  try {
    name = azureCredentialFor(deps, request.resource, request.clientId);
  } catch (err) {
    return azureError(c, 400, messageOf(err));
  }
  try {
    const token = await endpointToken(deps, name, { uid: request.uid, protocol: "azure", form: request.form }, c.req.method);
    const expiresIn = Math.max(0, Math.floor((token.expiresAt - deps.now()) / 1000));
    return secretJsonResponse({
      access_token: token.value,
      expires_on: String(Math.floor(token.expiresAt / 1000)),
      expires_in: String(expiresIn),
      resource: request.resource,
      token_type: token.tokenType,
      client_id: request.clientId ?? clientIdOf(deps, name) ?? "",
    });
  } catch (err) {
    return azureError(c, statusOf(err), messageOf(err));
  }
}

export function azureError(c: Context, status: number, message: string): Response {
  const error = status === 401 ? "unauthorized" : status === 403 ? "forbidden" : "invalid_request";
  return c.json(
    { statusCode: status, message, error, error_description: message },
    status as ContentfulStatusCode,
    status === 405 ? { Allow: c.req.path.startsWith("/metadata/") ? "GET" : "GET, POST" } : {},
  );
}
