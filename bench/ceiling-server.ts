// The ceiling for the API benchmark: the least a Bun server can do on a Unix socket (Bun.serve,
// no peer check, no routing), answering the same JSON shape as GET /v1/credentials/{name}.
const path = process.argv[2];
if (!path) throw new Error("usage: bun bench/ceiling-server.ts SOCKET");
const body = JSON.stringify({
  name: "db",
  token: "x".repeat(40),
  token_type: "Bearer",
  expires_at: new Date().toISOString(),
  expires_in: 3600,
});
Bun.serve({ unix: path, fetch: () => new Response(body, { headers: { "content-type": "application/json" } }) });
process.stdout.write("ready\n");
