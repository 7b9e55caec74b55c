import type { Admission } from "../admission/admission.ts";
import { createHttpServer } from "../http/server.ts";
import type { Logger } from "../log/log.ts";
import { listenTcp } from "../transport/tcp.ts";
import type { createEndpointsApp } from "./app.ts";

// The SDK endpoints' listener: TCP on 127.0.0.1, served by the agent's own HTTP server behind the
// admission step every front door shares. A TCP peer has no credentials on its descriptor; the
// admission step finds its uid by the connection's whole 4-tuple in the kernel's socket table, at
// accept, and refuses another user's connection (and any source but 127.0.0.1) before a byte is read.

const LISTEN_ADDRESS = "127.0.0.1";
/** The SDKs send small requests: a query string, a form body of a resource name. */
const LIMITS = { maxHeadBytes: 16 * 1024, maxBodyBytes: 16 * 1024 };

export interface LoopbackServer {
  port: number;
  stop(graceMs?: number): Promise<void>;
}

export function listenLoopback(
  app: ReturnType<typeof createEndpointsApp>,
  options: { port: number; admission: Admission; requestDeadlineMs: number; log: Logger },
): LoopbackServer {
  const server = createHttpServer((request, actor) => app.fetch(request, actor), {
    admission: options.admission,
    door: "sdk-endpoints",
    headersTimeoutMs: options.requestDeadlineMs,
    bodyTimeoutMs: options.requestDeadlineMs,
    // A client that sends nothing for this long is dropped.
    idleTimeoutMs: 10_000,
    limits: LIMITS,
    log: options.log,
  });
  const listener = listenTcp(LISTEN_ADDRESS, options.port, (stream) => server.onStream(stream));
  return {
    port: listener.port,
    async stop(graceMs = 1_000) {
      listener.stop();
      await server.drain(graceMs);
    },
  };
}
