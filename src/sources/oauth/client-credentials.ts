import * as oauth from "oauth4webapi";
import type { SecretStore } from "../../store/store.ts";
import type { FetchContext, IdTokenExchange, Token, TokenSource } from "../source.ts";
import { clientAuthFor } from "./client-auth.ts";
import { providerError } from "./errors.ts";
import { idTokenExchange } from "./id-token.ts";
import type { OAuthOptions } from "./options.ts";
import { originOf, requestOptions, ServerMetadata } from "./server.ts";
import { toToken, tokenParameters } from "./token.ts";

/** `grant = "client_credentials"`: a service's own token, with its client secret or key. */
export function clientCredentialsSource(options: OAuthOptions, store: SecretStore): TokenSource & IdTokenExchange {
  const metadata = new ServerMetadata(options);
  const client: oauth.Client = { client_id: options.clientId };
  const errorContext = { name: options.name, origin: originOf(options), timeoutMs: options.httpTimeoutMs };
  return {
    kind: "oauth2",
    ...idTokenExchange(options, store, metadata),
    async fetchToken(ctx: FetchContext): Promise<Token> {
      try {
        const as = await metadata.get(ctx.signal);
        const auth = await clientAuthFor(options, store);
        const response = await oauth.clientCredentialsGrantRequest(
          as,
          client,
          auth,
          tokenParameters(options),
          requestOptions(options, ctx.signal, as.token_endpoint!),
        );
        const body = await oauth.processClientCredentialsResponse(as, client, response);
        return toToken(body, ctx.now, options.defaultLifetimeMs);
      } catch (err) {
        throw providerError(err, errorContext);
      }
    },
  };
}
