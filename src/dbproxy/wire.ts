import type { Duplex } from "node:stream";
import { CredagentError } from "../errors.ts";

// The PostgreSQL v3 framing credagent writes itself: the frontend's untyped startup packets (which
// pg-protocol, a parser of backend messages, does not read) and the few messages whose body is a
// secret (pg-protocol's serializer takes a password as a string; these take bytes and are zeroed).

export const SSL_REQUEST = 80877103;
export const GSSENC_REQUEST = 80877104;
export const CANCEL_REQUEST = 80877102;
export const PROTOCOL_3 = 196608;
const MAX_STARTUP = 10_000;
const MAX_MESSAGE = 1 << 20;

/**
 * Whole frames out of bytes pushed in as they arrive, keeping what arrived beyond them. At most
 * `maxBuffered` bytes are held: a peer sending more before its frames are read (a client pushing
 * queries while the proxy still logs in) is cut off rather than buffered without end.
 */
export class FrameReader {
  #buffered: Buffer = Buffer.alloc(0);
  #waiting: (() => void) | undefined;
  #ended: Error | undefined;

  constructor(private readonly maxBuffered = 1 << 20) {}

  push(chunk: Uint8Array): void {
    const bytes = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    this.#buffered = this.#buffered.length ? Buffer.concat([this.#buffered, bytes]) : bytes;
    if (this.#buffered.length > this.maxBuffered) {
      this.end(new CredagentError("bad_request", `more than ${this.maxBuffered} bytes arrived before the login finished`));
    }
    this.#waiting?.();
  }

  /** No more bytes will come: a read waiting for them fails with `err`. */
  end(err?: Error): void {
    this.#ended ??= err instanceof Error ? err : new CredagentError("unavailable", "the connection closed during the startup exchange");
    this.#waiting?.();
  }

  get failed(): Error | undefined {
    return this.#ended;
  }

  async #need(n: number): Promise<void> {
    while (this.#buffered.length < n) {
      if (this.#ended) throw this.#ended;
      await new Promise<void>((resolve) => (this.#waiting = resolve));
      this.#waiting = undefined;
    }
  }

  async #take(n: number): Promise<Buffer> {
    await this.#need(n);
    const out = this.#buffered.subarray(0, n);
    this.#buffered = this.#buffered.subarray(n);
    return out;
  }

  /** One byte: the server's answer to SSLRequest. */
  async byte(): Promise<number> {
    return (await this.#take(1))[0]!;
  }

  /** The next byte, left to be read. */
  async peek(): Promise<number> {
    await this.#need(1);
    return this.#buffered[0]!;
  }

  /** Exactly n bytes (a GSS token of a length the stream gave), copied. */
  async bytes(n: number): Promise<Buffer> {
    return Buffer.from(await this.#take(n));
  }

  /** A startup-phase packet: Int32 length (itself included) then the body. */
  async untyped(): Promise<Buffer> {
    const length = (await this.#take(4)).readInt32BE(0);
    if (length < 8 || length > MAX_STARTUP)
      throw new CredagentError("bad_request", `a startup packet of ${length} bytes is not PostgreSQL`);
    return this.#take(length - 4);
  }

  /** A typed message, whole (type byte, length, body), for pg-protocol's parser or for forwarding. */
  async typed(): Promise<Buffer> {
    await this.#need(5);
    const length = this.#buffered.readInt32BE(1);
    if (length < 4 || length > MAX_MESSAGE)
      throw new CredagentError("upstream_auth", `the server sent a message of ${length} bytes during authentication`);
    return Buffer.from(await this.#take(1 + length));
  }

  /** What arrived beyond the frames read, taken out (for the relay that follows). */
  rest(): Buffer {
    const rest = this.#buffered;
    this.#buffered = Buffer.alloc(0);
    return rest;
  }
}

/** A FrameReader fed by a node:net socket (the connection to the server) until detached. */
export class SocketFrameReader extends FrameReader {
  readonly #onData = (chunk: Buffer) => this.push(chunk);
  readonly #onEnd = (err?: Error) => this.end(err);

  constructor(private readonly socket: Duplex) {
    super(MAX_MESSAGE * 2);
    socket.on("data", this.#onData);
    socket.on("end", this.#onEnd);
    socket.on("close", this.#onEnd);
    socket.on("error", this.#onEnd);
  }

  /** Stops reading; what arrived beyond the frames read is returned, for the pipe that follows. */
  detach(): Buffer {
    this.socket.off("data", this.#onData);
    this.socket.off("end", this.#onEnd);
    this.socket.off("close", this.#onEnd);
    this.socket.off("error", this.#onEnd);
    // Paused until the pipe that follows resumes it: a chunk arriving in between would be lost.
    this.socket.pause();
    return this.rest();
  }
}

/** A v3 StartupMessage's parameters (user, database, options, application_name, ...). */
export function startupParameters(body: Buffer): Map<string, string> {
  const params = new Map<string, string>();
  let at = 4;
  while (at < body.length && body[at] !== 0) {
    const keyEnd = body.indexOf(0, at);
    const valueEnd = keyEnd < 0 ? -1 : body.indexOf(0, keyEnd + 1);
    if (valueEnd < 0) throw new CredagentError("bad_request", "a malformed startup packet");
    params.set(body.toString("utf8", at, keyEnd), body.toString("utf8", keyEnd + 1, valueEnd));
    at = valueEnd + 1;
  }
  return params;
}

export function startupMessage(params: Map<string, string>): Buffer {
  const parts = [...params].flatMap(([k, v]) => [Buffer.from(k + "\0"), Buffer.from(v + "\0")]);
  const body = Buffer.concat([int32(PROTOCOL_3), ...parts, Buffer.from([0])]);
  return Buffer.concat([int32(body.length + 4), body]);
}

export function sslRequest(): Buffer {
  return Buffer.concat([int32(8), int32(SSL_REQUEST)]);
}

export function gssencRequest(): Buffer {
  return Buffer.concat([int32(8), int32(GSSENC_REQUEST)]);
}

/** 'p' with a GSS-API token: the answer to AuthenticationGSS and AuthenticationGSSContinue. */
export function gssResponse(token: Uint8Array): Buffer {
  return Buffer.concat([Buffer.from("p"), int32(token.byteLength + 4), token]);
}

/** A GSS token or sealed message as PostgreSQL frames them on a GSS-encrypted connection: a 32-bit length, then the bytes. */
export function gssPacket(bytes: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(4 + bytes.byteLength);
  out.writeUInt32BE(bytes.byteLength, 0);
  out.set(bytes, 4);
  return out;
}

/** 'p' with the password bytes: the caller zeroes the result once written. */
export function passwordMessage(secret: Uint8Array): Buffer {
  const out = Buffer.alloc(1 + 4 + secret.length + 1);
  out[0] = 0x70;
  out.writeInt32BE(4 + secret.length + 1, 1);
  out.set(secret, 5);
  return out;
}

export function saslInitialResponse(mechanism: string, data: string): Buffer {
  const payload = Buffer.from(data);
  const body = Buffer.concat([Buffer.from(mechanism + "\0"), int32(payload.length), payload]);
  return Buffer.concat([Buffer.from("p"), int32(body.length + 4), body]);
}

export function saslResponse(data: string): Buffer {
  const payload = Buffer.from(data);
  return Buffer.concat([Buffer.from("p"), int32(payload.length + 4), payload]);
}

/** A FATAL ErrorResponse; SQLSTATE 28000 (invalid_authorization_specification) unless told. */
export function errorResponse(message: string, sqlstate = "28000"): Buffer {
  const fields = Buffer.concat([Buffer.from(`SFATAL\0VFATAL\0C${sqlstate}\0Mcredagent: ${message}\0`), Buffer.from([0])]);
  return Buffer.concat([Buffer.from("E"), int32(fields.length + 4), fields]);
}

function int32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeInt32BE(n, 0);
  return b;
}
