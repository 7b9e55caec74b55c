import * as oauth from "oauth4webapi";
import { CredagentError } from "../../errors.ts";
import { providerError } from "./errors.ts";
import type { OAuthOptions } from "./options.ts";

const LOOPBACK = new Set(["127.0.0.1", "[::1]", "localhost"]);

/** Request options for every call: a per-request timeout joined to the caller's signal. */
export function requestOptions(options: OAuthOptions, signal: AbortSignal, url: string) {
  return {
    signal: AbortSignal.any([signal, AbortSignal.timeout(options.httpTimeoutMs)]),
    // Plain http only to this machine (a provider run locally, as in the tests); never across a network.
    [oauth.allowInsecureRequests]: LOOPBACK.has(new URL(url).hostname),
  };
}

export function originOf(options: OAuthOptions): string {
  const url = options.issuer ?? options.tokenEndpoint ?? "";
  try {
    return new URL(url).origin;
  } catch {
    return url;
  }
}

/**
 * The authorization server's metadata: from explicit endpoints, or discovered once and kept.
 * A failed discovery is not kept, so the next fetch tries again.
 */
export class ServerMetadata {
  #cached: oauth.AuthorizationServer | undefined;
  #pending: Promise<oauth.AuthorizationServer> | undefined;

  constructor(private readonly options: OAuthOptions) {}

  get(signal: AbortSignal): Promise<oauth.AuthorizationServer> {
    if (this.#cached) return Promise.resolve(this.#cached);
    const { issuer, tokenEndpoint, deviceAuthorizationEndpoint } = this.options;
    if (tokenEndpoint) {
      this.#cached = {
        issuer: issuer ?? new URL(tokenEndpoint).origin,
        token_endpoint: tokenEndpoint,
        device_authorization_endpoint: deviceAuthorizationEndpoint,
      };
      return Promise.resolve(this.#cached);
    }
    if (!issuer) throw new CredagentError("config_invalid", `credential '${this.options.name}' has neither issuer nor token_endpoint`);
    this.#pending ??= this.#discover(issuer, signal).then(
      (as) => {
        this.#pending = undefined;
        return (this.#cached = as);
      },
      (err) => {
        this.#pending = undefined;
        throw err;
      },
    );
    return this.#pending;
  }

  async #discover(issuer: string, signal: AbortSignal): Promise<oauth.AuthorizationServer> {
    const url = new URL(issuer);
    const ctx = { name: this.options.name, origin: url.origin, timeoutMs: this.options.httpTimeoutMs };
    let lastError: unknown;
    for (const algorithm of ["oidc", "oauth2"] as const) {
      try {
        const response = await oauth.discoveryRequest(url, { algorithm, ...requestOptions(this.options, signal, issuer) });
        return await oauth.processDiscoveryResponse(url, response);
      } catch (err) {
        lastError = err;
        // Only a missing document is worth the other well-known path.
        if (!(err instanceof oauth.OperationProcessingError && err.cause instanceof Response && err.cause.status === 404)) break;
      }
    }
    const announced = announcedIssuer(lastError);
    if (announced !== undefined) {
      throw new CredagentError(
        "source_failed",
        `discovery of ${issuer} failed: the provider announces the issuer ${announced}, but the config expects ${issuer}; ` +
          `set issuer = "${announced}" for credential '${this.options.name}' if that provider is the one meant`,
        { cause: lastError },
      );
    }
    const cause = providerError(lastError, ctx);
    throw new CredagentError("source_failed", `discovery of ${issuer} failed: ${cause.message}`, { cause: lastError });
  }
}

/** The issuer a discovery document announced when it is not the one configured (RFC 8414 section 3.3). */
function announcedIssuer(err: unknown): string | undefined {
  if (!(err instanceof oauth.OperationProcessingError) || err.code !== oauth.JSON_ATTRIBUTE_COMPARISON) return undefined;
  const cause = err.cause as { attribute?: unknown; body?: { issuer?: unknown } } | undefined;
  return cause?.attribute === "issuer" && typeof cause.body?.issuer === "string" ? cause.body.issuer : undefined;
}
