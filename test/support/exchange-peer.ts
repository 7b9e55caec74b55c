// A Unix socket peer for test/unit/native/unix-exchange.test.ts, in its own process: the exchange
// under test blocks its caller, so the peer cannot share the test's event loop.
//   bun exchange-peer.ts PATH MODE    prints "ready" once listening; MODE is one of
//   answer   reads the request, answers 40,000 bytes in three writes 20 ms apart, closes
//   silent   reads the request, closes without a byte
//   refuse   writes a 403 at once, without reading, and closes (an agent refusing a peer)
//   hang     reads the request and never answers
import net from "node:net";

const [path, mode] = process.argv.slice(2) as [string, string];
const body = "x".repeat(40_000);
const answer = `HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n${body}`;
const refusal = "HTTP/1.1 403 Forbidden\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}";

const server = net.createServer((socket) => {
  socket.on("error", () => {});
  if (mode === "refuse") return void socket.end(refusal);
  let request = "";
  socket.on("data", async (data) => {
    request += data.toString("latin1");
    if (!request.includes("\r\n\r\n")) return;
    if (mode === "silent") return void socket.end();
    if (mode === "hang") return;
    const third = Math.ceil(answer.length / 3);
    for (let at = 0; at < answer.length; at += third) {
      socket.write(answer.slice(at, at + third));
      await Bun.sleep(20);
    }
    socket.end();
  });
});
server.listen(path, () => console.log("ready"));
