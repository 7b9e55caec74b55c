// A real OpenID Provider (npm oidc-provider) on 127.0.0.1 for the OAuth tests. Run with node:
//   node test/support/oidc-provider.mjs CONFIG.json
// CONFIG: { port, ttl (access token seconds), refreshTtl, jwks (private signing keys), clients }.
// Prints "ready <issuer>" once listening. GET /test/stats counts token endpoint calls by grant;
// GET /test/refresh-tokens lists the refresh tokens issued, oldest first.
// It also takes OAuth 2.0 Token Exchange (RFC 8693) for ID tokens, through oidc-provider's own
// extension point (registerGrantType), as providers that offer it do (Keycloak, Okta): an access
// token it issued to the calling client, exchanged for an ID token for the audience asked, signed
// with its signing key, so that it verifies against its JWKS.
import { readFileSync } from "node:fs";
import { importJWK, jwtVerify, SignJWT } from "jose";
import Provider, { errors } from "oidc-provider";

const cfg = JSON.parse(readFileSync(process.argv[2], "utf8"));
const issuer = `http://127.0.0.1:${cfg.port}`;
const RESOURCE = "https://api.credagent.test";
const stats = {};

const provider = new Provider(issuer, {
  clients: cfg.clients,
  jwks: cfg.jwks,
  scopes: ["openid", "offline_access", "api:read"],
  features: {
    clientCredentials: { enabled: true },
    deviceFlow: { enabled: true },
    devInteractions: { enabled: true },
    revocation: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => RESOURCE,
      useGrantedResource: () => true,
      getResourceServerInfo: (_ctx, resource) => ({
        scope: "api:read offline_access",
        audience: resource,
        accessTokenTTL: cfg.ttl,
        accessTokenFormat: "jwt",
      }),
    },
  },
  ttl: {
    AccessToken: cfg.ttl,
    ClientCredentials: cfg.ttl,
    RefreshToken: cfg.refreshTtl ?? 3600,
    DeviceCode: 600,
    Grant: 3600,
    Interaction: 600,
    Session: 3600,
  },
  rotateRefreshToken: true,
  issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed("refresh_token"),
  findAccount: async (_ctx, sub) => ({ accountId: sub, claims: async () => ({ sub }) }),
});
provider.proxy = false;

const TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange";
const ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token";
const ID_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:id_token";
const signingJwk = cfg.jwks.keys[0];
const signingKey = await importJWK(signingJwk, signingJwk.alg);
const verifyingKey = await importJWK({ kty: signingJwk.kty, n: signingJwk.n, e: signingJwk.e }, signingJwk.alg);
provider.registerGrantType(
  TOKEN_EXCHANGE,
  async (ctx) => {
    const { subject_token, subject_token_type, requested_token_type, audience } = ctx.oidc.params;
    if (subject_token_type !== ACCESS_TOKEN_TYPE) throw new errors.InvalidRequest("subject_token_type must be an access token");
    if (requested_token_type !== ID_TOKEN_TYPE) throw new errors.InvalidRequest("only ID tokens are issued by exchange here");
    if (!audience) throw new errors.InvalidRequest("audience is required");
    let subject;
    try {
      ({ payload: subject } = await jwtVerify(subject_token, verifyingKey, { issuer }));
    } catch {
      throw new errors.InvalidGrant("subject_token is not a valid access token of this provider");
    }
    if (subject.client_id !== ctx.oidc.client.clientId) throw new errors.InvalidGrant("subject_token was issued to another client");
    const now = Math.floor(Date.now() / 1000);
    const ttl = cfg.idTokenTtl ?? cfg.ttl;
    const idToken = await new SignJWT({ azp: ctx.oidc.client.clientId })
      .setProtectedHeader({ alg: signingJwk.alg, kid: signingJwk.kid, typ: "JWT" })
      .setIssuer(issuer)
      .setSubject(String(subject.sub ?? ctx.oidc.client.clientId))
      .setAudience(audience)
      .setIssuedAt(now)
      .setExpirationTime(now + ttl)
      .sign(signingKey);
    ctx.body = { access_token: idToken, issued_token_type: ID_TOKEN_TYPE, token_type: "N_A", expires_in: ttl };
  },
  ["subject_token", "subject_token_type", "requested_token_type", "audience"],
);

provider.use(async (ctx, next) => {
  if (ctx.path === "/test/stats") {
    ctx.body = stats;
    return;
  }
  if (ctx.path === "/test/refresh-tokens") {
    ctx.body = refreshTokens;
    return;
  }
  await next();
  // Every refresh token this provider hands out, so a test can check what a client stored.
  if (ctx.path === "/token" && ctx.status === 200 && typeof ctx.body?.refresh_token === "string")
    refreshTokens.push(ctx.body.refresh_token);
});
const refreshTokens = [];
const count = (key) => (stats[key] = (stats[key] ?? 0) + 1);
provider.on("grant.success", (ctx) => count(ctx.oidc.params.grant_type));
provider.on("grant.error", (ctx) => count(`error:${ctx.oidc?.params?.grant_type ?? "?"}`));

const server = provider.listen(cfg.port, "127.0.0.1", () => process.stdout.write(`ready ${issuer}\n`));
for (const signal of ["SIGTERM", "SIGINT"]) process.on(signal, () => server.close(() => process.exit(0)));
