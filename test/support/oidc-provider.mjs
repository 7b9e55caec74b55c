// A real OpenID Provider (npm oidc-provider) on 127.0.0.1 for the OAuth tests. Run with node:
//   node test/support/oidc-provider.mjs CONFIG.json
// CONFIG: { port, ttl (access token seconds), refreshTtl, jwks (private signing keys), clients }.
// Prints "ready <issuer>" once listening. GET /test/stats counts token endpoint calls by grant;
// GET /test/refresh-tokens lists the refresh tokens issued, oldest first.
import { readFileSync } from "node:fs";
import Provider from "oidc-provider";

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
