import { describe, ERROR_STATUS, type ErrorCode } from "../errors.ts";
import { errorBody } from "../api/errors.ts";
import type { ConnectionBindings } from "../api/deps.ts";
import { peerAllowed, readPeerIdentity, type PeerIdentity } from "../identity/peer.ts";
import { readProcessInfo } from "../identity/process-info.ts";
import type { Stream } from "../transport/stream.ts";
import { RequestParser, type ParsedRequest } from "./parser.ts";
import { errorAnswer, serializeResponse } from "./response.ts";
import { ConnectionSlots, type Slot, type SlotLimits } from "../admission/slots.ts";
import type { Logger } from "../log/log.ts";

// The agent's HTTP/1.1 server: connections from transport/stream.ts, requests from http1/parser.ts,
// answers from the app's fetch handler (hono) written by http1/response.ts. Not node:http: a
// Bun.serve server never shows the accepted socket, so the peer's credentials (SO_PEERCRED) cannot
// be read, and node:http over node:net sockets costs three times the CPU per request (measured:
// transport/stream.ts). Peer checks cost one getsockopt per connection, not per request.
//
// One request at a time per connection, in order (pipelined requests wait in the parser). Each
// phase the client controls has a deadline: its headers (from their first byte), its body (from
// the end of the headers), the wait for its next request (idle). The agent's own work on a
// request (a slow source, a confirm prompt) is not the client's phase and has none here.

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

const LIMITS = { maxHeadBytes: 16 * 1024, maxBodyBytes: 64 * 1024 };
/** Bytes a client may send ahead while its request is answered before its connection stops being read. */
const PIPELINE_BYTES = LIMITS.maxHeadBytes + LIMITS.maxBodyBytes;
const CONTINUE = new TextEncoder().encode("HTTP/1.1 100 Continue\r\n\r\n");

type Phase = "idle" | "headers" | "body";

class Connection implements Slot {
  readonly parser = new RequestParser(LIMITS);
  /** A request is being answered. */
  busy = false;
  /** No request will be read any more: the connection closes once its answer is out. */
  closing = false;
  /** The peer sent FIN: after what it sent is answered, the connection closes. */
  peerEnded = false;
  closed = false;
  phase: Phase | null = null;
  timer: ReturnType<typeof setTimeout> | undefined;
  /** "100 Continue" was sent for the request whose body is arriving. */
  continued = false;

  constructor(
    readonly stream: Stream,
    readonly pid: number | null,
    readonly bindings: ConnectionBindings,
  ) {}

  idle(): boolean {
    return !this.busy && this.parser.buffered === 0;
  }
}

export interface RequestServer {
  onStream(stream: Stream): void;
  /** Resolves once every request in flight has been answered (or after graceMs). */
  drain(graceMs: number): Promise<void>;
}

export function createRequestServer(fetch: FetchHandler, options: ServerOptions): RequestServer {
  const slots = new ConnectionSlots<Connection>(options.limits);
  const pressure = pressureLog(options.log, slots);
  let inFlight = 0;
  let onIdle: (() => void) | undefined;
  let draining = false;

  /** Enters a phase, arming its deadline; entering the phase it is in keeps the running clock. */
  function enter(conn: Connection, phase: Phase | null): void {
    if (conn.phase === phase) return;
    clearTimeout(conn.timer);
    conn.timer = undefined;
    conn.phase = phase;
    if (phase === null || conn.closed) return;
    const ms = phase === "idle" ? options.idleTimeoutMs : phase === "headers" ? options.headersTimeoutMs : options.bodyTimeoutMs;
    conn.timer = setTimeout(() => {
      conn.timer = undefined;
      if (phase === "idle") return conn.stream.destroy();
      const message = phase === "headers" ? "the request was not received in time" : "the request body was not received in time";
      fail(conn, "request_timeout", message);
    }, ms);
  }

  /** Answers an error the request stream cannot recover from and closes. */
  function fail(conn: Connection, code: ErrorCode, message: string): void {
    enter(conn, null);
    conn.closing = true;
    endWith(conn.stream, code, message);
  }

  /** Reads what is buffered: starts the deadlines of a partial request, or answers a whole one. */
  function pump(conn: Connection): void {
    if (conn.busy || conn.closing || conn.closed) return;
    const step = conn.parser.next();
    switch (step.kind) {
      case "empty":
        if (conn.peerEnded) return conn.stream.end();
        return enter(conn, "idle");
      case "head":
        if (conn.peerEnded) return conn.stream.destroy();
        return enter(conn, "headers");
      case "body":
        if (conn.peerEnded) return conn.stream.destroy();
        enter(conn, "body");
        if (step.head.expectContinue && !conn.continued) {
          conn.continued = true;
          conn.stream.write(CONTINUE);
        }
        return;
      case "error":
        return fail(conn, step.code, step.message);
      case "request":
        enter(conn, null);
        conn.continued = false;
        void answer(conn, step.request);
    }
  }

  async function answer(conn: Connection, req: ParsedRequest): Promise<void> {
    conn.busy = true;
    inFlight += 1;
    let bytes: Uint8Array | undefined;
    try {
      const response = await respond(conn, req);
      const keepAlive = req.keepAlive && !draining && !conn.peerEnded && response.headers.get("connection")?.toLowerCase() !== "close";
      if (!keepAlive) conn.closing = true;
      bytes = await serializeResponse(response, { keepAlive, version: req.version, omitBody: req.method === "HEAD" });
    } catch (err) {
      options.log.error("request failed", { error: describe(err) });
      conn.closing = true;
      bytes = httpError("internal", "internal error in the agent; its log has the details");
    } finally {
      req.body?.fill(0);
    }
    const sent = bytes;
    conn.stream.write(sent, () => sent.fill(0));
    conn.busy = false;
    inFlight -= 1;
    if (conn.closing) conn.stream.end();
    else {
      conn.stream.resume();
      pump(conn);
    }
    if (conn.idle()) slots.becameIdle(conn);
    if (inFlight === 0) onIdle?.();
  }

  function respond(conn: Connection, req: ParsedRequest): Response | Promise<Response> {
    let request: Request;
    try {
      // GET and HEAD take no body in fetch's Request; a body sent with one is read and dropped.
      const body = req.body && req.method !== "GET" && req.method !== "HEAD" ? req.body : null;
      request = new Request(`http://localhost${req.target}`, { method: req.method, headers: req.headers, body });
    } catch {
      conn.closing = true;
      return Response.json(errorBody("bad_request", "malformed HTTP request"), { status: 400 });
    }
    return fetch(request, conn.bindings);
  }

  function track(conn: Connection): void {
    slots.add(conn);
    const { stream } = conn;
    stream.onData = (bytes) => {
      if (conn.closing || conn.closed) return;
      conn.parser.push(bytes);
      if (!conn.busy) return pump(conn);
      // Pipelined bytes beyond one whole request wait in the kernel, not here.
      if (conn.parser.buffered > PIPELINE_BYTES) stream.pause();
    };
    stream.onEnd = () => {
      conn.peerEnded = true;
      // Both sides done: nothing is left to read or to answer.
      if (conn.closing && !conn.busy) return stream.destroy();
      pump(conn);
    };
    stream.onClose = () => {
      conn.closed = true;
      enter(conn, null);
      conn.parser.wipe();
      slots.remove(conn);
    };
    enter(conn, "idle");
  }

  return {
    onStream(stream) {
      let peer: PeerIdentity | null;
      try {
        peer = readPeerIdentity(stream.fd);
      } catch (err) {
        options.log.error("cannot read the peer's credentials; connection refused", { error: describe(err) });
        return stream.destroy();
      }
      if (!peerAllowed(peer, options.agentUid, options.denyRoot)) {
        options.log.warn("connection from another user refused", { pid: peer?.pid, uid: peer?.uid });
        options.onRefused?.(peer);
        return refuse(stream, "forbidden", "this agent serves only its own user");
      }
      const admission = slots.admit(peer?.pid ?? null);
      if (!admission.admit) {
        pressure.refused(admission.reason);
        return refuse(stream, "unavailable", `the agent refused this connection: ${admission.reason}`);
      }
      if (admission.evict) {
        slots.remove(admission.evict);
        admission.evict.stream.destroy();
        pressure.evicted();
      }
      // Read once per connection: the executable and start time (for the pid-reuse check).
      const info = peer && (process.platform === "linux" || process.platform === "darwin") ? readProcessInfo(peer.pid) : null;
      const bindings: ConnectionBindings = { peer, process: info ? { exe: info.exe, startTime: info.startTime } : null };
      track(new Connection(stream, peer?.pid ?? null, bindings));
    },

    async drain(graceMs) {
      draining = true;
      for (const conn of slots.connections()) if (!conn.busy) conn.stream.destroy();
      if (inFlight > 0) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, graceMs);
          onIdle = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      }
      for (const conn of slots.connections()) conn.stream.destroy();
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
    const fields = {
      evicted_idle: evicted,
      refused,
      open: slots.size,
      max: slots.limits.max,
      top_pid: top?.pid,
      top_pid_connections: top?.connections,
    };
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
 * Answers a connection that was never admitted and ends it, the peer's bytes still read (and
 * dropped) until it closes or the linger runs out (transport/stream.ts): closing a Unix socket with
 * the client's request unread makes the client's next read fail with ECONNRESET before it sees
 * why. Under a flood of refused connections, beyond LINGERING_REFUSALS at once, they are closed at
 * once and may see that reset.
 */
function refuse(stream: Stream, code: ErrorCode, message: string): void {
  stream.write(httpError(code, message));
  if (lingering >= LINGERING_REFUSALS) return stream.destroy();
  lingering += 1;
  stream.onClose = () => (lingering -= 1);
  stream.onEnd = () => stream.destroy();
  stream.end({ linger: true });
}

function endWith(stream: Stream, code: ErrorCode, message: string): void {
  stream.write(httpError(code, message));
  stream.end();
}

/** An error answer written straight to the connection, with the status and body the API gives that code. */
function httpError(code: ErrorCode, message: string): Uint8Array {
  return errorAnswer(ERROR_STATUS[code], JSON.stringify(errorBody(code, message)));
}
