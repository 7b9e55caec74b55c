import * as oauth from "oauth4webapi";
import { CredagentError } from "../../errors.ts";
import { Secret } from "../../secret.ts";
import type { SecretStore } from "../../store/store.ts";
import type { FetchContext, IdTokenExchange, Token } from "../source.ts";
import { jwtExpiry } from "../token-output.ts";
import { clientAuthFor } from "./client-auth.ts";
import { providerError } from "./errors.ts";
import type { OAuthOptions } from "./options.ts";
import { originOf, requestOptions, type ServerMetadata } from "./server.ts";

// An ID token for an audience other than the client itself, through OAuth 2.0 Token Exchange (RFC
// 8693): the access token the credential holds is the subject, and the provider issues an ID
// token for the audience asked (Keycloak, Okta, and others announce the grant). A provider that
// does not list it in its metadata's grant_types_supported is not asked: the refusal says what it
// can give instead (its own id_token, for the client id).

export const TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange";
const ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token";
export const ID_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:id_token";
// RFC 8693 section 2.2.1: an issued token that is not an access token has the token_type N_A.
const NOT_APPLICABLE = { n_a: () => {} };

export function idTokenExchange(options: OAuthOptions, store: SecretStore, metadata: ServerMetadata): IdTokenExchange {
  const client: oauth.Client = { client_id: options.clientId };
  const errorContext = { name: options.name, origin: originOf(options), timeoutMs: options.httpTimeoutMs };
  return {
    async exchangeIdToken(ctx: FetchContext, subject: Token, audience: string): Promise<Token> {
      try {
        const as = await metadata.get(ctx.signal);
        if (!as.grant_types_supported?.includes(TOKEN_EXCHANGE)) {
          throw new CredagentError(
            "bad_request",
            `credential '${options.name}' cannot get an ID token for ${audience}: its provider (${originOf(options)}) issues ID tokens ` +
              `for its client id ${options.clientId} only (with scope "openid"), and its metadata offers no token exchange (RFC 8693)`,
          );
        }
        const auth = await clientAuthFor(options, store);
        const params = new URLSearchParams({
          subject_token: subject.value.reveal(),
          subject_token_type: ACCESS_TOKEN_TYPE,
          requested_token_type: ID_TOKEN_TYPE,
          audience,
        });
        const response = await oauth.genericTokenEndpointRequest(
          as,
          client,
          auth,
          TOKEN_EXCHANGE,
          params,
          requestOptions(options, ctx.signal, as.token_endpoint!),
        );
        const body = await oauth.processGenericTokenEndpointResponse(as, client, response, { recognizedTokenTypes: NOT_APPLICABLE });
        if (body.issued_token_type !== ID_TOKEN_TYPE) {
          throw new CredagentError(
            "source_failed",
            `the provider of '${options.name}' answered the token exchange with a ${String(body.issued_token_type ?? "token of no stated type")}, not an ID token`,
          );
        }
        const exp = jwtExpiry(body.access_token);
        const fromExpiresIn = typeof body.expires_in === "number" ? ctx.now + body.expires_in * 1000 : undefined;
        const expiresAt = Math.min(exp ?? Infinity, fromExpiresIn ?? Infinity);
        if (!Number.isFinite(expiresAt)) {
          throw new CredagentError("source_failed", `the ID token the provider of '${options.name}' issued says nothing of its expiry`);
        }
        return { value: new Secret(body.access_token), tokenType: "Bearer", obtainedAt: ctx.now, expiresAt };
      } catch (err) {
        throw providerError(err, errorContext);
      }
    },
  };
}
