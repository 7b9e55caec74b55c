import { Hono } from "hono";
import type { EndpointDeps, LoopbackBindings } from "./deps.ts";
import { azureError, azureTokenAnswer } from "./azure-token.ts";

// The Azure Instance Metadata Service's token path, which every Azure client asks on a VM, at
// 169.254.169.254 or where AZURE_POD_IDENTITY_AUTHORITY_HOST points (@azure/identity through MSAL,
// azure-identity for Python, Go, .NET; msrestazure, hence azure-cli, has the address built in):
//   GET /metadata/identity/oauth2/token?api-version=V&resource=R[&client_id=…]   Metadata: true
// Azure Arc's agent answers the same request at IDENTITY_ENDPOINT when IMDS_ENDPOINT is set; its
// extra step (a 401 naming a key file under /var/opt/azcmagent/tokens/ that the client must read)
// is one a per-user agent cannot take, as that directory is root's: the clients check the path.
// IMDS has no secret: the loopback front door's uid check is its guard (the route is served only
// where that runs), with Metadata: true, which a browser cannot add to a simple request, and no
// X-Forwarded-For (a proxy relaying someone else's request), as IMDS refuses both.

export const IMDS_TOKEN_PATH = "/metadata/identity/oauth2/token";

export function azureImdsRoutes(deps: EndpointDeps): Hono<{ Bindings: LoopbackBindings }> {
  const app = new Hono<{ Bindings: LoopbackBindings }>({ strict: false });
  app.get(IMDS_TOKEN_PATH, async (c) => {
    // IMDS's own answers: a probe without the header (azure-identity's, @azure/identity's) learns
    // that something is listening.
    if (c.req.header("metadata")?.toLowerCase() !== "true") return azureError(c, 400, "Required metadata header not specified");
    if (!c.req.query("api-version")) return azureError(c, 400, "Required query variable 'api-version' is missing");
    return azureTokenAnswer(c, deps, {
      resource: c.req.query("resource"),
      clientId: c.req.query("client_id"),
      uid: c.env?.uid ?? null,
      form: "IMDS",
    });
  });
  return app;
}
