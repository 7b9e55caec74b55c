// The floor of any relay written for this runtime: a Unix socket (Bun.listen, as the agent's) whose
// bytes go to a TCP server and back as they come, with no login, no admission, no parsing and no
// backpressure. The server side on Bun.connect or on node:net (the agent's today): which one the
// database proxy should use is measured, not assumed (bench/dbproxy.ts runs both).
// Run: node_modules/.bin/bun bench/bare-relay.ts SOCKET HOST PORT bun|node  (prints "ready")
import net from "node:net";

const [socketPath, host, portText, kind] = process.argv.slice(2) as [string, string, string, "bun" | "node"];
const port = Number(portText);

interface Side {
  write(bytes: Uint8Array): void;
  close(): void;
}
interface Client {
  server?: Side;
  queued: Uint8Array[];
}

function connect(client: Bun.Socket<Client>): void {
  const ready = (server: Side) => {
    client.data.server = server;
    for (const bytes of client.data.queued) server.write(bytes);
    client.data.queued = [];
  };
  if (kind === "bun") {
    void Bun.connect<Bun.Socket<Client>>({
      hostname: host,
      port,
      data: client,
      socket: {
        open: (s) => ready({ write: (b) => void s.write(b), close: () => s.end() }),
        data: (s, bytes) => void s.data.write(bytes),
        close: (s) => void s.data.end(),
      },
    }).catch(() => client.end());
    return;
  }
  const s = net.connect({ host, port });
  s.setNoDelay(true);
  s.on("connect", () => ready({ write: (b) => void s.write(b), close: () => s.destroy() }));
  s.on("data", (bytes: Buffer) => void client.write(bytes));
  s.on("close", () => client.end());
  s.on("error", () => {});
}

Bun.listen<Client>({
  unix: socketPath,
  socket: {
    open(client) {
      client.data = { queued: [] };
      connect(client);
    },
    data(client, bytes) {
      if (client.data.server) client.data.server.write(bytes);
      else client.data.queued.push(Uint8Array.from(bytes));
    },
    close(client) {
      client.data.server?.close();
    },
  },
});
console.log("ready");
