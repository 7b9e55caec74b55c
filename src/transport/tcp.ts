import { CredagentError, describe } from "../errors.ts";
import { bunStreamHandlers, type Stream } from "./stream.ts";

// A TCP listener on a loopback address (the SDK endpoints; a database's `listen`), each connection
// a Stream whose addresses the admission step looks the peer up by (identity/identify.ts).

export interface TcpListener {
  readonly address: string;
  readonly port: number;
  /** Stops accepting; connections already accepted go on. */
  stop(): void;
}

export function listenTcp(address: string, port: number, onStream: (stream: Stream) => void): TcpListener {
  if (!/^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(address)) {
    throw new CredagentError("config_invalid", `${address} is not a loopback address: credagent listens on TCP only on 127.0.0.0/8`);
  }
  let listener: Bun.TCPSocketListener<unknown>;
  try {
    listener = Bun.listen({ hostname: address, port, socket: bunStreamHandlers(onStream, "tcp"), allowHalfOpen: true });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === "EADDRINUSE" ? "the port is in use by another program; choose another port" : describe(err);
    throw new CredagentError("unavailable", `cannot listen on ${address}:${port}: ${why}`, { cause: err });
  }
  let stopped = false;
  return {
    address,
    port: listener.port,
    stop() {
      if (stopped) return;
      stopped = true;
      listener.stop(false);
    },
  };
}
