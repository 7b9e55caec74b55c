import { getRequestListener } from "@hono/node-server";
import http from "node:http";
import type net from "node:net";
import { describe } from "../errors.ts";
import type { ConnectionBindings } from "../api/deps.ts";
import { peerAllowed, readPeerIdentity, type PeerIdentity } from "../identity/peer.ts";
import { readProcessInfo } from "../identity/process-info.ts";
import type { Logger } from "./log.ts";

// Why node:net + node:http and not Bun.serve: Bun.serve never shows the accepted socket, so the
// peer's credentials (SO_PEERCRED) cannot be read. A node:net server exposes the fd; the socket
// is then handed to a node:http server, and hono's node adapter turns requests into fetch calls.
// Peer checks cost one getsockopt per connection, not per request.

export interface ServerOptions {
  agentUid: number;
  denyRoot: boolean;
  /** A request whose headers are not complete by then gets 408 (slowloris). */
  headersTimeoutMs: number;
  /** A keep-alive connection idle for this long is closed. */
  idleTimeoutMs: number;
  log: Logger;
  /** Told of every connection refused for its uid (for the audit log). */
  onRefused?: (peer: PeerIdentity | null) => void;
}

export type FetchHandler = (request: Request, env: ConnectionBindings) => Response | Promise<Response>;

interface ConnectionState {
  bindings: ConnectionBindings;
  cancelHeadersTimer: (() => void) | undefined;
  inFlight: number;
}

export interface RequestServer {
  onConnection(socket: net.Socket): void;
  /** Resolves once every request in flight has been answered (or after graceMs). */
  drain(graceMs: number): Promise<void>;
}

export function createRequestServer(fetch: FetchHandler, options: ServerOptions): RequestServer {
  const states = new WeakMap<net.Socket, ConnectionState>();
  const sockets = new Set<net.Socket>();
  let inFlight = 0;
  let onIdle: (() => void) | undefined;
  let draining = false;

  const listener = getRequestListener((request, env) => {
    const socket = (env as { incoming: http.IncomingMessage }).incoming.socket as net.Socket;
    return fetch(request, states.get(socket)?.bindings ?? { peer: null, process: null });
  });

  const httpServer = http.createServer({ maxHeaderSize: 16 * 1024 });
  httpServer.on("request", (req: http.IncomingMessage, res: http.ServerResponse) => {
    const state = states.get(req.socket as net.Socket);
    if (state) {
      state.cancelHeadersTimer?.();
      state.cancelHeadersTimer = undefined;
      state.inFlight += 1;
    }
    inFlight += 1;
    if (draining) res.setHeader("Connection", "close");
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      inFlight -= 1;
      if (state) state.inFlight -= 1;
      if (inFlight === 0) onIdle?.();
    };
    res.on("finish", finish);
    res.on("close", finish);
    listener(req, res).catch((err) => options.log.error("request failed", { error: describe(err) }));
  });
  httpServer.on("clientError", (err: NodeJS.ErrnoException, socket: net.Socket) => {
    if (!socket.writable) return socket.destroy();
    if (err.code === "HPE_HEADER_OVERFLOW") {
      return endWith(socket, 431, "headers_too_large", "the request headers are too large");
    }
    if (err.code === "ECONNRESET" || err.code === "EPIPE" || err.code === "HPE_INVALID_EOF_STATE") return socket.destroy();
    endWith(socket, 400, "bad_request", "malformed HTTP request");
  });

  return {
    onConnection(socket) {
      let peer: PeerIdentity | null;
      try {
        peer = readPeerIdentity(socket);
      } catch (err) {
        options.log.error("cannot read the peer's credentials; connection refused", { error: describe(err) });
        return socket.destroy();
      }
      if (!peerAllowed(peer, options.agentUid, options.denyRoot)) {
        options.log.warn("connection from another user refused", { pid: peer?.pid, uid: peer?.uid });
        options.onRefused?.(peer);
        return endWith(socket, 403, "forbidden", "this agent serves only its own user");
      }
      // Read once per connection: the executable and start time (for the pid-reuse check).
      const info = peer && (process.platform === "linux" || process.platform === "darwin") ? readProcessInfo(peer.pid) : null;
      const bindings: ConnectionBindings = { peer, process: info ? { exe: info.exe, startTime: info.startTime } : null };
      const state: ConnectionState = { bindings, cancelHeadersTimer: undefined, inFlight: 0 };
      states.set(socket, state);
      sockets.add(socket);
      socket.on("close", () => {
        state.cancelHeadersTimer?.();
        sockets.delete(socket);
      });
      socket.on("error", () => {});
      socket.on("data", () => {
        // The first bytes of a request start its clock; the 'request' event (headers parsed) stops it.
        if (state.cancelHeadersTimer || state.inFlight > 0) return;
        const timer = setTimeout(() => {
          state.cancelHeadersTimer = undefined;
          endWith(socket, 408, "request_timeout", "the request was not received in time");
        }, options.headersTimeoutMs);
        state.cancelHeadersTimer = () => clearTimeout(timer);
      });
      socket.setTimeout(options.idleTimeoutMs, () => {
        if (state.inFlight === 0) socket.destroy();
      });
      httpServer.emit("connection", socket);
    },

    async drain(graceMs) {
      draining = true;
      for (const socket of sockets) {
        if (states.get(socket)?.inFlight === 0) socket.destroy();
      }
      if (inFlight > 0) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, graceMs);
          onIdle = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      }
      for (const socket of sockets) socket.destroy();
    },
  };
}

function endWith(socket: net.Socket, status: number, code: string, message: string): void {
  const body = JSON.stringify({ error: { code, message } });
  const reason = http.STATUS_CODES[status] ?? "Error";
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
  socket.destroySoon?.();
}
