// What an oauth2 credential is configured with, as the sources need it (the config layer maps
// the TOML onto this).

export type OAuthGrant = "client_credentials" | "device_code";
export type ClientAuthMethod = "client_secret_basic" | "client_secret_post" | "private_key_jwt" | "none";

export interface OAuthOptions {
  name: string;
  grant: OAuthGrant;
  /** Discovered through /.well-known/openid-configuration, else oauth-authorization-server. */
  issuer?: string;
  tokenEndpoint?: string;
  deviceAuthorizationEndpoint?: string;
  clientId: string;
  clientAuth: ClientAuthMethod;
  scope?: string;
  resource?: string;
  audience?: string;
  /** JWK key id for private_key_jwt assertions. */
  keyId?: string;
  /** Timeout of every single HTTP request to the identity provider. */
  httpTimeoutMs: number;
  /** Lifetime when neither expires_in nor a JWT exp says. */
  defaultLifetimeMs: number;
}

/** The Entra ID (Azure AD) preset: v2.0 endpoints of a tenant, so no discovery round trip. */
export function entraEndpoints(tenant: string): Pick<OAuthOptions, "issuer" | "tokenEndpoint" | "deviceAuthorizationEndpoint"> {
  const base = `https://login.microsoftonline.com/${encodeURIComponent(tenant)}`;
  return {
    issuer: `${base}/v2.0`,
    tokenEndpoint: `${base}/oauth2/v2.0/token`,
    deviceAuthorizationEndpoint: `${base}/oauth2/v2.0/devicecode`,
  };
}
