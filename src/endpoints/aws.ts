import { Hono, type Context } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { secretJsonResponse } from "../http/secret-response.ts";
import type { EndpointDeps, LoopbackBindings } from "./deps.ts";
import { AWS_PATH } from "./info-file.ts";
import { endpointToken, messageOf, statusOf } from "./token.ts";

// The AWS container credentials endpoint (ECS's, and EKS Pod Identity's), which every AWS SDK's
// default chain asks when AWS_CONTAINER_CREDENTIALS_FULL_URI is set: GET FULL_URI with
// `Authorization: <AWS_CONTAINER_AUTHORIZATION_TOKEN>` (or the contents of
// AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE) → {AccessKeyId, SecretAccessKey, Token, Expiration}.
// The SDKs allow plain http only to loopback (127.0.0.0/8, ::1) and the container hosts.
// Errors are {Code, Message}, which @aws-sdk/credential-provider-http copies into its error.

export function awsRoutes(deps: EndpointDeps, credential: string): Hono<{ Bindings: LoopbackBindings }> {
  const app = new Hono<{ Bindings: LoopbackBindings }>();
  app.get(AWS_PATH, async (c) => {
    if (!deps.secret.matches(c.req.header("authorization"))) {
      return awsError(
        c,
        401,
        "AccessDenied",
        "missing or wrong Authorization: set AWS_CONTAINER_AUTHORIZATION_TOKEN from 'credagent env --sdk'",
      );
    }
    try {
      const token = await endpointToken(deps, credential, { uid: c.env?.uid ?? null, protocol: "aws" }, c.req.method);
      if (token.kind !== "aws" || !token.aws) {
        return awsError(
          c,
          500,
          "InvalidCredential",
          `credential '${credential}' is not an AWS key: its source must print AccessKeyId and SecretAccessKey (credential_process output)`,
        );
      }
      // The secrets are written from their bytes; the key id is an identifier, not a secret.
      return secretJsonResponse({
        AccessKeyId: token.aws.accessKeyId,
        SecretAccessKey: token.value,
        // The protocol wants a string: long-term keys (no session token) send it empty.
        Token: token.aws.sessionToken ?? "",
        Expiration: new Date(token.expiresAt).toISOString(),
      });
    } catch (err) {
      return awsError(c, statusOf(err), "CredentialUnavailable", messageOf(err));
    }
  });
  return app;
}

function awsError(c: Context, status: number, code: string, message: string): Response {
  return c.json({ Code: code, Message: message }, status as ContentfulStatusCode, status === 405 ? { Allow: "GET" } : {});
}
