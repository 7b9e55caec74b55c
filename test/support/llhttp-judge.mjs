// Judges raw HTTP requests with Node's own parser (llhttp), for the corpus test of our parser
// (test/unit/http/corpus.test.ts). Run under Node, not Bun (Bun's node:http is not llhttp).
// Reads a JSON array of base64 requests on stdin; prints a JSON array of
// { outcome: "accept" | "reject", requests, error } in the same order.
import http from "node:http";
import net from "node:net";

const cases = JSON.parse(
  await new Promise((resolve) => {
    let text = "";
    process.stdin.on("data", (d) => (text += d));
    process.stdin.on("end", () => resolve(text));
  }),
);

let current = null;
const server = http.createServer({ requireHostHeader: false, keepAliveTimeout: 1000 }, (req, res) => {
  current.requests += 1;
  req.resume();
  req.on("end", () => res.end("ok"));
});
server.on("clientError", (err, socket) => {
  if (current) current.error ??= err.code ?? String(err);
  socket.destroy();
});
await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
const { port } = server.address();

const out = [];
for (const encoded of cases) {
  current = { requests: 0, error: null };
  await new Promise((resolve) => {
    const socket = net.connect(port, "127.0.0.1", () => socket.end(Buffer.from(encoded, "base64")));
    socket.on("data", () => {});
    socket.on("error", () => {});
    socket.on("close", resolve);
    setTimeout(() => socket.destroy(), 2000);
  });
  // The server's side may still be finishing: let its events run.
  await new Promise((resolve) => setTimeout(resolve, 20));
  out.push({ outcome: current.error ? "reject" : "accept", requests: current.requests, error: current.error });
}
server.close();
console.log(JSON.stringify(out));
process.exit(0);
