// A stand-in for the agent at a Unix socket, answering GET /v1/health in one of several ways, for
// start's short path (test/e2e/start-short-path.test.ts); it writes the head of every request it
// gets to LOG, one JSON line each, so the test can tell the short path's request from the full
// command's (which fetch sends with a User-Agent).
//   bun health-peer.ts PATH MODE LOG    prints "ready" once listening; MODE is one of
//   ok       a health answer with this process's pid and PATH
//   notjson  200 with a body that is not JSON
//   error    500 with an error body, as the agent writes them
//   token    403 with WWW-Authenticate, unless the request carries the token it wrote to PATH.token
//   hang     reads the request and never answers
import { appendFileSync, writeFileSync } from "node:fs";
import net from "node:net";

const [path, mode, log] = process.argv.slice(2) as [string, string, string];
const TOKEN = "peer-session-token";
if (mode === "token") writeFileSync(`${path}.token`, `${TOKEN}\n`, { mode: 0o600 });

function respond(status: string, body: string, extra = ""): string {
  return `HTTP/1.1 ${status}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n${extra}\r\n${body}`;
}

const healthy = JSON.stringify({
  status: "ok",
  version: "0.0.0-peer",
  pid: process.pid,
  socket: path,
  started_at: new Date().toISOString(),
  locked: false,
});

const server = net.createServer((socket) => {
  socket.on("error", () => {});
  let request = "";
  socket.on("data", (data) => {
    request += data.toString("latin1");
    const end = request.indexOf("\r\n\r\n");
    if (end < 0) return;
    const head = request.slice(0, end).split("\r\n");
    appendFileSync(log, `${JSON.stringify(head)}\n`);
    if (mode === "hang") return;
    const authorized = head.some((h) => h.toLowerCase() === `authorization: bearer ${TOKEN}`);
    if (mode === "ok" || (mode === "token" && authorized)) return void socket.end(respond("200 OK", healthy));
    if (mode === "token")
      return void socket.end(
        respond(
          "403 Forbidden",
          '{"error":{"code":"forbidden","message":"the session token is required"}}',
          'WWW-Authenticate: Bearer realm="credagent"\r\n',
        ),
      );
    if (mode === "notjson") return void socket.end(respond("200 OK", "<html>not json</html>"));
    socket.end(respond("500 Internal Server Error", '{"error":{"code":"internal","message":"the peer is broken"}}'));
  });
});
server.listen(path, () => console.log("ready"));
