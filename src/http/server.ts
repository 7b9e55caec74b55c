import type { Admission, Door, Held } from "../admission/admission.ts";
import { describe, ERROR_STATUS, errorBody, type ErrorCode } from "../errors.ts";
import type { Actor } from "../identity/actor.ts";
import type { Logger } from "../log/log.ts";
import { systemClock, within, type Clock } from "../time/clock.ts";
import type { Stream } from "../transport/stream.ts";
import { RequestParser, type ParsedRequest, type ParserLimits } from "./parser.ts";
import { errorAnswer, serializeResponse } from "./response.ts";

// A generic HTTP/1.1 server over Streams (transport/stream.ts): requests from parser.ts, answers
// from a fetch-style handler written by response.ts. Not node:http, nor Bun.serve: a Bun.serve
// server never shows the accepted socket, so the peer cannot be identified at accept, and node:http
// over node:net sockets costs three times the CPU per request (measured: BENCHMARKS.md). Every
// connection passes the admission step it is given (admission/) before a byte is read: who is
// there, and a slot in the pool all front doors share.
//
// One request at a time per connection, in order (pipelined requests wait in the parser). Each
// phase the client controls has a deadline: its headers (from their first byte), its body (from
// the end of the headers), the wait for its next request (idle). The handler's own work on a
// request (a slow source, a confirm prompt) is not the client's phase and has none here.

export interface HttpServerOptions {
  /** The admission step, and this listener's name in it (logs, audit). */
  admission: Admission;
  door: string;
  /** A request whose headers are not complete by then gets 408 (slowloris). */
  headersTimeoutMs: number;
  /** A request whose body is not complete this long after its headers gets 408. */
  bodyTimeoutMs: number;
  /** A keep-alive connection idle for this long is closed. */
  idleTimeoutMs: number;
  limits?: ParserLimits;
  log: Logger;
  /** The deadlines' clock; injected by tests. */
  clock?: Clock;
}

export type Handler = (request: Request, actor: Actor) => Response | Promise<Response>;

export interface HttpServer {
  onStream(stream: Stream): void;
  /** Resolves once every request in flight has been answered (or after graceMs). */
  drain(graceMs: number): Promise<void>;
}

const DEFAULT_LIMITS: ParserLimits = { maxHeadBytes: 16 * 1024, maxBodyBytes: 64 * 1024 };
const CONTINUE = new TextEncoder().encode("HTTP/1.1 100 Continue\r\n\r\n");

type Phase = "idle" | "headers" | "body";

class Connection implements Held {
  readonly parser: RequestParser;
  /** A request is being answered. */
  busy = false;
  /** No request will be read any more: the connection closes once its answer is out. */
  closing = false;
  /** The peer sent FIN: after what it sent is answered, the connection closes. */
  peerEnded = false;
  closed = false;
  phase: Phase | null = null;
  /** Cancels the running phase's deadline. */
  timer: (() => void) | undefined;
  /** "100 Continue" was sent for the request whose body is arriving. */
  continued = false;

  constructor(
    readonly stream: Stream,
    readonly actor: Actor,
    limits: ParserLimits,
  ) {
    this.parser = new RequestParser(limits);
  }

  idle(): boolean {
    return !this.busy && this.parser.buffered === 0;
  }

  evict(): void {
    this.stream.destroy();
  }
}

export function createHttpServer(handler: Handler, options: HttpServerOptions): HttpServer {
  const limits = options.limits ?? DEFAULT_LIMITS;
  const clock = options.clock ?? systemClock;
  /** Bytes a client may send ahead while its request is answered before its connection stops being read. */
  const pipelineBytes = limits.maxHeadBytes + limits.maxBodyBytes;
  const connections = new Set<Connection>();
  let inFlight = 0;
  let onIdle: (() => void) | undefined;
  let draining = false;

  const door: Door = options.admission.door(options.door, { answer: httpError });

  /** Enters a phase, arming its deadline; entering the phase it is in keeps the running clock. */
  function enter(conn: Connection, phase: Phase | null): void {
    if (conn.phase === phase) return;
    conn.timer?.();
    conn.timer = undefined;
    conn.phase = phase;
    if (phase === null || conn.closed) return;
    const ms = phase === "idle" ? options.idleTimeoutMs : phase === "headers" ? options.headersTimeoutMs : options.bodyTimeoutMs;
    conn.timer = clock.setTimeout(() => {
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
    conn.stream.write(httpError(code, message));
    conn.stream.end();
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
    if (conn.idle()) door.becameIdle(conn);
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
    return handler(request, conn.actor);
  }

  function track(conn: Connection): void {
    connections.add(conn);
    const { stream } = conn;
    stream.onData = (bytes) => {
      if (conn.closing || conn.closed) return;
      conn.parser.push(bytes);
      // The parser copied them; this array is Bun's copy of the read, freed unzeroed otherwise (a
      // request may hold a secret: the lock passphrase, a secret's value).
      bytes.fill(0);
      if (!conn.busy) return pump(conn);
      // Pipelined bytes beyond one whole request wait in the kernel, not here.
      if (conn.parser.buffered > pipelineBytes) stream.pause();
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
      connections.delete(conn);
      door.release(conn);
    };
    enter(conn, "idle");
  }

  return {
    onStream(stream) {
      const conn = door.admit(stream, (actor) => new Connection(stream, actor, limits));
      if (conn) track(conn);
    },

    async drain(graceMs) {
      draining = true;
      for (const conn of connections) if (!conn.busy) conn.stream.destroy();
      if (inFlight > 0) {
        await within(new Promise<void>((resolve) => (onIdle = resolve)), graceMs, clock);
      }
      for (const conn of connections) conn.stream.destroy();
    },
  };
}

/** An error answer written straight to the connection, with the status and body the API gives that code. */
function httpError(code: ErrorCode, message: string): Uint8Array {
  return errorAnswer(ERROR_STATUS[code], JSON.stringify(errorBody(code, message)));
}
