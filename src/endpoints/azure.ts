import { Hono } from "hono";
import type { EndpointDeps, LoopbackBindings } from "./deps.ts";
import { azureError, azureTokenAnswer } from "./azure-token.ts";
import { AZURE_PATH } from "./info-file.ts";

// The managed identity protocols asked at one URL, IDENTITY_ENDPOINT = MSI_ENDPOINT:
// - App Service 2019-08-01, which @azure/identity (through MSAL), azure-identity for Python, .NET,
//   Java and Go speak when IDENTITY_ENDPOINT and IDENTITY_HEADER are set:
//     GET ?api-version=2019-08-01&resource=R[&client_id=…]   X-IDENTITY-HEADER: IDENTITY_HEADER
// - App Service 2017-09-01, also Azure Machine Learning's, with MSI_ENDPOINT and MSI_SECRET
//   (azure-identity's AzureMLCredential, MSAL's MachineLearning source, azure-cli's msrestazure
//   when APPSETTING_WEBSITE_SITE_NAME says App Service):
//     GET ?api-version=2017-09-01&resource=R[&clientid=…]   secret: MSI_SECRET
// - Cloud Shell's, which azure-cli 2.45 speaks whenever MSI_ENDPOINT is set (msrestazure
//   get_msi_token), and azure-identity and MSAL when MSI_SECRET is not:
//     POST, form body resource=R[&client_id=…]   Metadata: true
//   It has no secret: like IMDS (azure-imds.ts) it is served only where the peer's uid is checked,
//   and Metadata: true keeps out what a browser can send without a preflight.
// client_id is matched against an oauth2 credential's; object_id and msi_res_id/mi_res_id are not
// checked (credagent knows no Azure object or resource ids).

const APP_SERVICE_2019 = "2019-08-01";
const APP_SERVICE_2017 = "2017-09-01";

export function azureRoutes(deps: EndpointDeps): Hono<{ Bindings: LoopbackBindings }> {
  // Not strict: msrestazure asks for MSI_ENDPOINT + "/?resource=…".
  const app = new Hono<{ Bindings: LoopbackBindings }>({ strict: false });
  app.get(AZURE_PATH, async (c) => {
    const version = c.req.query("api-version");
    const uid = c.env?.uid ?? null;
    if (version === APP_SERVICE_2019) {
      if (!deps.secret.matches(c.req.header("x-identity-header")))
        return azureError(c, 401, "missing or wrong X-IDENTITY-HEADER: set IDENTITY_HEADER from 'credagent env --sdk'");
      return azureTokenAnswer(c, deps, {
        resource: c.req.query("resource"),
        clientId: c.req.query("client_id"),
        uid,
        form: "App Service 2019",
      });
    }
    if (version === APP_SERVICE_2017) {
      if (!deps.secret.matches(c.req.header("secret")))
        return azureError(c, 401, "missing or wrong secret header: set MSI_SECRET from 'credagent env --sdk'");
      return azureTokenAnswer(c, deps, {
        resource: c.req.query("resource"),
        clientId: c.req.query("clientid"),
        uid,
        form: "App Service 2017",
      });
    }
    return azureError(c, 400, `api-version must be ${APP_SERVICE_2019} (IDENTITY_ENDPOINT) or ${APP_SERVICE_2017} (MSI_ENDPOINT)`);
  });
  app.post(AZURE_PATH, async (c) => {
    if (!deps.uidKnown) {
      return azureError(
        c,
        403,
        "the Cloud Shell protocol (POST) has no secret, and on this system the agent cannot tell which user connects: use IDENTITY_ENDPOINT and IDENTITY_HEADER, or MSI_ENDPOINT with MSI_SECRET and APPSETTING_WEBSITE_SITE_NAME set (azure-cli)",
      );
    }
    if (c.req.header("metadata")?.toLowerCase() !== "true") return azureError(c, 400, "Required metadata header not specified");
    const form = new URLSearchParams(await c.req.text());
    return azureTokenAnswer(c, deps, {
      resource: form.get("resource") ?? undefined,
      clientId: form.get("client_id") ?? undefined,
      uid: c.env?.uid ?? null,
      form: "Cloud Shell",
    });
  });
  return app;
}
