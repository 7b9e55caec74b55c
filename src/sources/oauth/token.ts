import type * as oauth from "oauth4webapi";
import { Secret } from "../../secret.ts";
import type { Token } from "../source.ts";
import { jwtExpiry } from "../token-output.ts";

/**
 * A token endpoint response as a Token: expires_in decides, else a JWT's exp, else the default.
 * When both are there the earlier wins: exp has whole seconds and the provider counts from its
 * own iat, so now + expires_in can lie up to a second past the JWT's real end.
 */
export function toToken(response: oauth.TokenEndpointResponse, now: number, defaultLifetimeMs: number): Token {
  const exp = jwtExpiry(response.access_token);
  const fromExpiresIn = typeof response.expires_in === "number" ? now + response.expires_in * 1000 : undefined;
  // An id_token (oauth4webapi has checked its issuer, audience and times) is held with the access
  // token and lives as long as both do: the pair is renewed when the first of them would expire.
  const idExp = typeof response.id_token === "string" ? jwtExpiry(response.id_token) : undefined;
  const expiresAt = Math.min(
    fromExpiresIn ?? Infinity,
    exp ?? Infinity,
    idExp ?? Infinity,
    fromExpiresIn === undefined && exp === undefined ? now + defaultLifetimeMs : Infinity,
  );
  const type = response.token_type.toLowerCase() === "bearer" ? "Bearer" : response.token_type;
  const token: Token = { value: new Secret(response.access_token), tokenType: type, obtainedAt: now, expiresAt };
  if (typeof response.id_token === "string") token.idToken = new Secret(response.id_token);
  return token;
}

/** scope, resource and audience as the provider needs them, only those that are set. */
export function tokenParameters(options: { scope?: string; resource?: string; audience?: string }): URLSearchParams {
  const params = new URLSearchParams();
  if (options.scope) params.set("scope", options.scope);
  if (options.resource) params.set("resource", options.resource);
  if (options.audience) params.set("audience", options.audience);
  return params;
}
