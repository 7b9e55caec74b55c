import { describe } from "../errors.ts";
import { loopbackPeerUidFast } from "../identity/loopback-peer.ts";
import type { Logger } from "../log/log.ts";
import type { createEndpointsApp } from "./app.ts";

// Bun.serve, not the node:http server of the socket: a TCP peer has no credentials to read from
// the accepted descriptor; what can be known comes from its address (its port, looked up in the
// kernel's socket table), which Bun.serve gives per request.

const LISTEN_ADDRESS = "127.0.0.1";

export interface LoopbackServer {
  port: number;
  stop(): Promise<void>;
}

export function listenLoopback(
  app: ReturnType<typeof createEndpointsApp>,
  options: { port: number; uidKnown: boolean; log: Logger },
): LoopbackServer {
  const server = Bun.serve({
    hostname: LISTEN_ADDRESS,
    port: options.port,
    // A client that sends nothing for this long is dropped (the socket's deadlines, in Bun's terms).
    idleTimeout: 10,
    maxRequestBodySize: 16 * 1024,
    fetch(request, srv) {
      const ip = srv.requestIP(request);
      // The peer's socket by the whole 4-tuple: another user may bind any 127/8 address with the
      // port of the owner's open connection. A peer on another address is refused whoever it is;
      // its uid is still looked up, for the audit line.
      const peerUid =
        options.uidKnown && ip
          ? loopbackPeerUidFast({ peerAddress: ip.address, peerPort: ip.port, serverAddress: LISTEN_ADDRESS, serverPort: srv.port! })
          : null;
      return app.fetch(request, { peerUid, sourceAllowed: ip?.address === LISTEN_ADDRESS });
    },
    error(err) {
      options.log.error("SDK endpoint request failed", { error: describe(err) });
      return new Response("internal error\n", { status: 500 });
    },
  });
  return { port: server.port!, stop: () => server.stop(true) };
}
