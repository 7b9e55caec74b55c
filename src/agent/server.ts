import { getRequestListener } from "@hono/node-server";
import http from "node:http";
import type net from "node:net";
import { describe, ERROR_STATUS, type ErrorCode } from "../errors.ts";
import { errorBody } from "../api/errors.ts";
import type { ConnectionBindings } from "../api/deps.ts";
import { peerAllowed, readPeerIdentity, type PeerIdentity } from "../identity/peer.ts";
import { readProcessInfo } from "../identity/process-info.ts";
import { ConnectionSlots, type Slot, type SlotLimits } from "./connection-slots.ts";
import type { Logger } from "./log.ts";

// Why node:net + node:http and not Bun.serve: Bun.serve never shows the accepted socket, so the
// peer's credentials (SO_PEERCRED) cannot be read. A node:net server exposes the fd; the socket
// is then handed to a node:http server, and hono's node adapter turns requests into fetch calls.
// Peer checks cost one getsockopt per connection, not per request.
//
// Bun's node:http ignores headersTimeout and requestTimeout, so the deadlines are ours. Each phase
// the client controls has one: its headers (from their first byte), its body (from the end of the
// headers), the wait for its next request (idle). The agent's own work on a request (a slow
// source, a confirm prompt) is not the client's phase and has none here.

export interface ServerOptions {
  agentUid: number;
  denyRoot: boolean;
  /** A request whose headers are not complete by then gets 408 (slowloris). */
  headersTimeoutMs: number;
  /** A request whose body is not complete this long after its headers gets 408. */
  bodyTimeoutMs: number;
  /** A keep-alive connection idle for this long is closed. */
  idleTimeoutMs: number;
  /** How many connections the agent holds, and how many one process may. */
  limits: SlotLimits;
  log: Logger;
  /** Told of every connection refused for its uid (for the audit log). */
  onRefused?: (peer: PeerIdentity | null) => void;
}

export type FetchHandler = (request: Request, env: ConnectionBindings) => Response | Promise<Response>;

class Connection implements Slot {
  inFlight = 0;
  /** The latest request whose headers were parsed; its body may still be arriving. */
  request: http.IncomingMessage | undefined;
  /** Set while the headers of a request are arriving: cancels their deadline. */
  cancelHeaders: (() => void) | undefined;

  constructor(
    readonly socket: net.Socket,
    readonly pid: number | null,
    readonly bindings: ConnectionBindings,
  ) {}

  idle(): boolean {
    return this.inFlight === 0 && this.cancelHeaders === undefined && (this.request?.complete ?? true);
  }
}

export interface RequestServer {
  onConnection(socket: net.Socket): void;
  /** Resolves once every request in flight has been answered (or after graceMs). */
  drain(graceMs: number): Promise<void>;
}

export function createRequestServer(fetch: FetchHandler, options: ServerOptions): RequestServer {
  const connections = new WeakMap<net.Socket, Connection>();
  const slots = new ConnectionSlots<Connection>(options.limits);
  const pressure = pressureLog(options.log, slots);
  let inFlight = 0;
  let onIdle: (() => void) | undefined;
  let draining = false;

  const listener = getRequestListener((request, env) => {
    const socket = (env as { incoming: http.IncomingMessage }).incoming.socket as net.Socket;
    return fetch(request, connections.get(socket)?.bindings ?? { peer: null, process: null });
  });

  const httpServer = http.createServer({ maxHeaderSize: 16 * 1024 });
  httpServer.on("request", (req: http.IncomingMessage, res: http.ServerResponse) => {
    const conn = connections.get(req.socket as net.Socket);
    if (conn) {
      conn.cancelHeaders?.();
      conn.cancelHeaders = undefined;
      conn.request = req;
      conn.inFlight += 1;
    }
    inFlight += 1;
    if (draining) res.setHeader("Connection", "close");
    // The body's deadline, armed only when the parser has not finished the request with the
    // chunk that held its headers (most requests have no body, or all of it in that chunk).
    // Checked when it fires rather than tracked: `complete` is exact, and a body the handler
    // never reads (a GET with Content-Length) gives no event to track.
    let bodyTimer: ReturnType<typeof setTimeout> | undefined;
    queueMicrotask(() => {
      if (req.complete || !conn) return;
      bodyTimer = setTimeout(() => {
        if (req.complete) return;
        if (res.headersSent) conn.socket.destroy();
        else endWith(conn.socket, "request_timeout", "the request body was not received in time");
      }, options.bodyTimeoutMs);
      req.once("end", () => clearTimeout(bodyTimer));
    });
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      if (req.complete) clearTimeout(bodyTimer);
      inFlight -= 1;
      if (conn) {
        conn.inFlight -= 1;
        if (conn.idle()) slots.becameIdle(conn);
      }
      if (inFlight === 0) onIdle?.();
    };
    res.on("finish", finish);
    res.on("close", finish);
    listener(req, res).catch((err) => options.log.error("request failed", { error: describe(err) }));
  });
  httpServer.on("clientError", (err: NodeJS.ErrnoException, socket: net.Socket) => {
    if (!socket.writable) return socket.destroy();
    if (err.code === "HPE_HEADER_OVERFLOW") {
      return endWith(socket, "headers_too_large", "the request headers are too large");
    }
    if (err.code === "ECONNRESET" || err.code === "EPIPE" || err.code === "HPE_INVALID_EOF_STATE") return socket.destroy();
    endWith(socket, "bad_request", "malformed HTTP request");
  });

  function track(conn: Connection): void {
    const { socket } = conn;
    connections.set(socket, conn);
    slots.add(conn);
    socket.on("close", () => {
      conn.cancelHeaders?.();
      slots.remove(conn);
    });
    socket.on("error", () => {});
    socket.on("data", () => {
      // The first bytes of a request start its headers' clock; the 'request' event stops it. Bytes
      // of a body still arriving, or pipelined behind a request in flight, do not.
      if (conn.cancelHeaders || conn.inFlight > 0 || (conn.request && !conn.request.complete)) return;
      const timer = setTimeout(() => {
        conn.cancelHeaders = undefined;
        endWith(socket, "request_timeout", "the request was not received in time");
      }, options.headersTimeoutMs);
      conn.cancelHeaders = () => clearTimeout(timer);
    });
    socket.setTimeout(options.idleTimeoutMs, () => {
      if (conn.idle()) socket.destroy();
    });
  }

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
        return refuse(socket, "forbidden", "this agent serves only its own user");
      }
      const admission = slots.admit(peer?.pid ?? null);
      if (!admission.admit) {
        pressure.refused(admission.reason);
        return refuse(socket, "unavailable", `the agent refused this connection: ${admission.reason}`);
      }
      if (admission.evict) {
        slots.remove(admission.evict);
        admission.evict.socket.destroy();
        pressure.evicted();
      }
      // Read once per connection: the executable and start time (for the pid-reuse check).
      const info = peer && (process.platform === "linux" || process.platform === "darwin") ? readProcessInfo(peer.pid) : null;
      const bindings: ConnectionBindings = { peer, process: info ? { exe: info.exe, startTime: info.startTime } : null };
      track(new Connection(socket, peer?.pid ?? null, bindings));
      httpServer.emit("connection", socket);
    },

    async drain(graceMs) {
      draining = true;
      for (const conn of slots.connections()) if (conn.inFlight === 0) conn.socket.destroy();
      if (inFlight > 0) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, graceMs);
          onIdle = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      }
      for (const conn of slots.connections()) conn.socket.destroy();
    },
  };
}

/**
 * One log line per 10 s at most about connections closed or refused at the cap: an attacker
 * opening thousands a second must not turn the log into its own flood.
 */
function pressureLog(log: Logger, slots: ConnectionSlots<Connection>, everyMs = 10_000) {
  let evicted = 0;
  let refused = 0;
  let lastReason = "";
  let lastLine = -Infinity;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const flush = () => {
    timer = undefined;
    lastLine = Date.now();
    const top = slots.holders(1)[0];
    const fields = { evicted_idle: evicted, refused, open: slots.size, max: slots.limits.max, top_pid: top?.pid, top_pid_connections: top?.connections };
    if (refused > 0) log.warn("connections refused: the agent's connection slots are busy", { ...fields, reason: lastReason });
    else log.info("idle connections closed to admit new ones (connection cap reached)", fields);
    evicted = 0;
    refused = 0;
  };
  const note = () => {
    if (timer) return;
    timer = setTimeout(flush, Math.max(0, lastLine + everyMs - Date.now()));
    timer.unref?.();
  };
  return {
    evicted() {
      evicted += 1;
      note();
    },
    refused(reason: string) {
      refused += 1;
      lastReason = reason;
      note();
    },
  };
}

/**
 * Refused connections waiting for their client to read why, at most: they hold descriptors beyond
 * the cap, so they come out of the ones connection-slots.ts reserves.
 */
const LINGERING_REFUSALS = 32;
let lingering = 0;

/**
 * Answers a connection that was never handed to the HTTP server, and closes it once the client
 * has read the answer (or after 1 s). Closing a Unix socket with the client's request unread
 * makes the client's next read fail with ECONNRESET before it sees why. Under a flood of refused
 * connections, beyond LINGERING_REFUSALS at once, they are closed at once and may see that reset.
 */
function refuse(socket: net.Socket, code: ErrorCode, message: string): void {
  socket.on("error", () => {});
  if (lingering >= LINGERING_REFUSALS) return endWith(socket, code, message);
  lingering += 1;
  socket.once("close", () => (lingering -= 1));
  socket.on("data", () => {});
  socket.setTimeout(1_000, () => socket.destroy());
  socket.end(httpError(code, message));
}

function endWith(socket: net.Socket, code: ErrorCode, message: string): void {
  socket.on("error", () => {});
  socket.end(httpError(code, message));
  socket.destroySoon?.();
}

/** An error answer written straight to the socket, with the status and body the API gives that code. */
function httpError(code: ErrorCode, message: string): string {
  const status = ERROR_STATUS[code];
  const body = JSON.stringify(errorBody(code, message));
  const reason = http.STATUS_CODES[status] ?? "Error";
  return `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`;
}
