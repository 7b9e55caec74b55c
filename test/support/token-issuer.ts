// Tokens that expire, as a real token service issues them: GET /issue on 127.0.0.1 answers a new
// token valid for `lifetimeSeconds` (a credential's command source curls it), and check() accepts an
// HTTP Basic Authorization whose password is a token issued and not yet expired. Each token holds
// the characters a netrc or config file must quote or escape. The server runs in the test's own
// process: drive clients with Bun.spawn, never spawnSync.

export interface TokenIssuer {
  /** http://127.0.0.1:PORT/issue */
  readonly url: string;
  readonly issued: string[];
  /** Requests that carried credentials that were wrong or expired (a client's probe without any is not counted). */
  readonly refused: Array<{ username: string; expired: boolean }>;
  check(authorization: string | null): { username: string | null; ok: boolean };
  stop(): void;
}

export function startTokenIssuer(username: string, lifetimeSeconds: number): TokenIssuer {
  const expiry = new Map<string, number>();
  const issued: string[] = [];
  const refused: TokenIssuer["refused"] = [];
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch(req) {
      if (new URL(req.url).pathname !== "/issue") return new Response("not found", { status: 404 });
      const token = `tok"${issued.length + 1}' #;\\ ${crypto.randomUUID().slice(0, 8)}`;
      issued.push(token);
      expiry.set(token, Date.now() + lifetimeSeconds * 1000);
      return Response.json({ access_token: token, expires_in: lifetimeSeconds });
    },
  });
  return {
    url: `http://127.0.0.1:${server.port}/issue`,
    issued,
    refused,
    check(authorization) {
      if (!authorization?.startsWith("Basic ")) return { username: null, ok: false };
      const decoded = Buffer.from(authorization.slice(6), "base64").toString("utf8");
      const colon = decoded.indexOf(":");
      const user = decoded.slice(0, colon);
      const until = expiry.get(decoded.slice(colon + 1));
      const ok = user === username && until !== undefined && Date.now() < until;
      if (!ok) refused.push({ username: user, expired: until !== undefined });
      return { username: user, ok };
    },
    stop: () => server.stop(true),
  };
}
