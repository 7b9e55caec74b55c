// HTTP/1.1 requests (RFC 9112) out of a byte stream, for the agent's own server (http/server.ts).
// Pure: no sockets, no timers. It reads what the agent's clients send and refuses the rest,
// strictly, since a lenient parser in front of a credential broker is an attack surface: CRLF line
// ends only, no obsolete line folding, no whitespace before a header's colon, one Content-Length
// (or several that agree) of digits only, and Transfer-Encoding only as a lone "chunked" and never
// beside a Content-Length (the request-smuggling ambiguities). Each call does work in proportion
// to the new bytes, so a request trickled in a byte at a time costs no more than a whole one.

export interface RequestHead {
  method: string;
  /** The request target as sent (origin-form: a path and maybe a query). */
  target: string;
  version: "1.0" | "1.1";
  /** Names as sent; HTTP compares them without regard to case. */
  headers: Array<[string, string]>;
  /** The connection may carry another request after this one. */
  keepAlive: boolean;
  /** The client waits for "100 Continue" before sending its body. */
  expectContinue: boolean;
}

export interface ParsedRequest extends RequestHead {
  /** Null when the request has no body (no Content-Length, or 0, and not chunked). */
  body: Uint8Array | null;
}

export type ParseError = { code: "bad_request" | "headers_too_large" | "payload_too_large"; message: string };

export type ParseStep =
  /** Nothing buffered: between requests. */
  | { kind: "empty" }
  /** Part of a request's head. */
  | { kind: "head" }
  /** A whole head; its body is still arriving. */
  | { kind: "body"; head: RequestHead }
  /** A whole request, now taken out of the buffer. */
  | { kind: "request"; request: ParsedRequest }
  /** The stream cannot be read further; the connection answers this and closes. */
  | ({ kind: "error" } & ParseError);

export interface ParserLimits {
  /** The request line and headers together (and a chunked body's trailers). */
  maxHeadBytes: number;
  maxBodyBytes: number;
}

const CR = 13;
const LF = 10;
const SP = 0x20;
/** A chunk-size line, extensions included. */
const MAX_CHUNK_LINE = 1024;
const MAX_CHUNK_EXTENSIONS = 16 * 1024;
const SLASH = 0x2f;
const VERSION_PREFIX = "HTTP/1.";
const METHODS = new Set(["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"]);
const METHOD_PREFIXES = new Set([...METHODS].flatMap((m) => Array.from(m, (_, i) => m.slice(0, i + 1))));

const enum LinePhase {
  Method,
  TargetStart,
  Target,
  Version,
  Cr,
  Lf,
  Done,
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
// Visible ASCII, space, tab and obs-text; no other control characters (NUL, CR, LF, DEL among them).
const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;
const TARGET = /^\/[\x21-\x7e]*$/;

type Framing = { kind: "none" } | { kind: "length"; length: number } | { kind: "chunked" };

interface ChunkedState {
  /** Where in the buffer (from the body's start) the next chunk-size line begins. */
  at: number;
  parts: Uint8Array[];
  total: number;
  /** Past the last chunk: reading the trailer lines. */
  trailers: boolean;
  /** Bytes of chunk extensions so far. */
  extensions: number;
}

export class RequestParser {
  // Allocated at the first bytes: an idle connection (a thousand of them, in a flood) holds none.
  #buffer = new Uint8Array(0);
  #start = 0;
  #end = 0;
  /** How far the search for the head's end has looked (from #start). */
  #scanned = 0;
  /** The head read so far, and where its body begins, counted from #start: push may move the bytes. */
  #head: { head: RequestHead; framing: Framing; bodyOffset: number } | null = null;
  #chunked: ChunkedState | null = null;
  #failed: ParseError | null = null;
  /** The request line checked so far (from #start), so bytes that cannot begin a request are refused as they come. */
  #line: { pos: number; phase: LinePhase; version?: number; method?: string } = { pos: 0, phase: LinePhase.Method };

  constructor(private readonly limits: ParserLimits) {}

  /** Bytes received and not yet taken as a request. */
  get buffered(): number {
    return this.#end - this.#start;
  }

  /** Zeroes everything buffered (a request may hold a secret: a passphrase, a secret's value). */
  wipe(): void {
    this.#buffer.fill(0);
    this.#start = this.#end = 0;
    this.#chunked?.parts.forEach((part) => part.fill(0));
  }

  push(bytes: Uint8Array): void {
    if (this.#end + bytes.length > this.#buffer.length) {
      const held = this.#end - this.#start;
      const size =
        held + bytes.length <= this.#buffer.length ? this.#buffer.length : Math.max(held + bytes.length, this.#buffer.length * 2, 1024);
      const next = new Uint8Array(size);
      next.set(this.#buffer.subarray(this.#start, this.#end));
      this.#buffer.fill(0);
      this.#buffer = next;
      this.#start = 0;
      this.#end = held;
    }
    this.#buffer.set(bytes, this.#end);
    this.#end += bytes.length;
  }

  next(): ParseStep {
    if (this.#failed) return { kind: "error", ...this.#failed };
    const step = this.#step();
    if (step.kind === "error") this.#failed = { code: step.code, message: step.message };
    return step;
  }

  #step(): ParseStep {
    if (!this.#head) {
      // Empty lines before a request line are allowed (RFC 9112 2.2).
      while (this.#end - this.#start >= 2 && this.#buffer[this.#start] === CR && this.#buffer[this.#start + 1] === LF) this.#start += 2;
      if (this.#start === this.#end) return { kind: "empty" };
      const early = this.#checkRequestLine();
      if (early) return { kind: "error", ...early };
      const headEnd = this.#findHeadEnd();
      if (headEnd < 0) {
        if (this.#end - this.#start > this.limits.maxHeadBytes) return tooLarge();
        return { kind: "head" };
      }
      if (headEnd - this.#start > this.limits.maxHeadBytes) return tooLarge();
      const parsed = parseHead(latin1(this.#buffer.subarray(this.#start, headEnd)));
      if ("code" in parsed) return { kind: "error", ...parsed };
      if (parsed.framing.kind === "length" && parsed.framing.length > this.limits.maxBodyBytes)
        return bodyTooLarge(this.limits.maxBodyBytes);
      this.#head = { ...parsed, bodyOffset: headEnd + 4 - this.#start };
      if (parsed.framing.kind === "chunked") this.#chunked = { at: 0, parts: [], total: 0, trailers: false, extensions: 0 };
    }
    const { head, framing, bodyOffset } = this.#head;
    const bodyStart = this.#start + bodyOffset;
    let body: Uint8Array | null = null;
    let consumedTo = bodyStart;
    if (framing.kind === "length") {
      if (this.#end - bodyStart < framing.length) return { kind: "body", head };
      body = this.#buffer.slice(bodyStart, bodyStart + framing.length);
      consumedTo = bodyStart + framing.length;
    } else if (framing.kind === "chunked") {
      const done = this.#readChunks(bodyStart);
      if (done === "more") return { kind: "body", head };
      if (typeof done !== "number") return { kind: "error", ...done };
      body = concat(this.#chunked!.parts, this.#chunked!.total);
      consumedTo = done;
    }
    // The request's bytes are copied out (its body) or parsed (its head): zeroed here.
    this.#buffer.fill(0, this.#start, consumedTo);
    this.#chunked?.parts.forEach((part) => part.fill(0));
    this.#start = consumedTo;
    this.#scanned = 0;
    this.#line = { pos: 0, phase: LinePhase.Method };
    this.#head = null;
    this.#chunked = null;
    if (this.#start === this.#end) this.#start = this.#end = 0;
    return { kind: "request", request: { ...head, body } };
  }

  /**
   * Checks the request line's bytes that arrived since the last call, as far as they go: a byte
   * that no valid request line can have there (a TLS record's 0x16, a NUL, a control character, a
   * method that is not a token, a target not starting with "/", a version that is not HTTP/1.0 or
   * 1.1) is refused at once, not after the headers' deadline.
   */
  #checkRequestLine(): ParseError | null {
    const line = this.#line;
    const buf = this.#buffer;
    for (let i = this.#start + line.pos; i < this.#end && line.phase !== LinePhase.Done; i++, line.pos++) {
      const b = buf[i]!;
      switch (line.phase) {
        case LinePhase.Method: {
          // A lone CR first may begin an empty line before the request (allowed): wait for its LF.
          if (b === CR && line.pos === 0 && i === this.#end - 1) return null;
          const method = line.method ?? "";
          if (b === SP && METHODS.has(method)) {
            line.phase = LinePhase.TargetStart;
            break;
          }
          // Methods are case-sensitive (RFC 9110 9.1): "get" or "HeAd" is not GET or HEAD (fetch's
          // Request would make it so), and a method the agent serves none of is refused, as llhttp does.
          const next = method + String.fromCharCode(b);
          if (!METHOD_PREFIXES.has(next))
            return bad(
              "malformed request line: it does not start with a method the agent serves (GET, HEAD, POST, PUT, DELETE, PATCH, OPTIONS)",
            );
          line.method = next;
          break;
        }
        case LinePhase.TargetStart:
          if (b !== SLASH) return bad("the request target must be a path (origin-form, starting with /)");
          line.phase = LinePhase.Target;
          break;
        case LinePhase.Target:
          if (b === SP) {
            line.phase = LinePhase.Version;
            line.version = 0;
          } else if (b < 0x21 || b > 0x7e) return bad("the request target holds a byte a URL cannot");
          break;
        case LinePhase.Version: {
          const at = line.version ?? 0;
          if (at === VERSION_PREFIX.length) {
            if (b !== 0x30 && b !== 0x31) return bad("only HTTP/1.0 and HTTP/1.1 are served");
            line.phase = LinePhase.Cr;
          } else if (b !== VERSION_PREFIX.charCodeAt(at)) return bad("only HTTP/1.0 and HTTP/1.1 are served");
          line.version = at + 1;
          break;
        }
        case LinePhase.Cr:
          if (b !== CR) return bad("malformed request line");
          line.phase = LinePhase.Lf;
          break;
        case LinePhase.Lf:
          if (b !== LF) return bad("header lines must end with CR LF");
          line.phase = LinePhase.Done;
          break;
      }
    }
    return null;
  }

  /** The index of the CR of the head's closing CR LF CR LF, or -1. */
  #findHeadEnd(): number {
    const from = this.#start + Math.max(0, this.#scanned - 3);
    for (let i = from; i + 3 < this.#end; i++) {
      if (this.#buffer[i] === CR && this.#buffer[i + 1] === LF && this.#buffer[i + 2] === CR && this.#buffer[i + 3] === LF) return i;
    }
    this.#scanned = this.#end - this.#start;
    return -1;
  }

  /** Reads the chunks that have arrived: the index past the body when complete, "more", or an error. */
  #readChunks(bodyStart: number): number | "more" | ParseError {
    const state = this.#chunked!;
    for (;;) {
      const lineStart = bodyStart + state.at;
      const lineEnd = indexOfCrlf(this.#buffer, lineStart, this.#end);
      if (lineEnd < 0) {
        // A size line longer than MAX_CHUNK_LINE, or a trailer line longer than a head may be, is
        // not a client of ours; the bound also keeps the search for a line's end linear.
        if (this.#end - lineStart > (state.trailers ? this.limits.maxHeadBytes : MAX_CHUNK_LINE))
          return { code: "bad_request", message: "malformed chunked body: a line is too long" };
        return "more";
      }
      const line = latin1(this.#buffer.subarray(lineStart, lineEnd));
      if (state.trailers) {
        state.at = lineEnd + 2 - bodyStart;
        if (line === "") return lineEnd + 2;
        if (!/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+:/.test(line) || !FIELD_VALUE.test(line))
          return { code: "bad_request", message: "malformed chunked body: a bad trailer line" };
        if (state.at > this.limits.maxHeadBytes * 2) return { code: "headers_too_large", message: "the request's trailers are too large" };
        continue;
      }
      if (line.length > MAX_CHUNK_LINE) return { code: "bad_request", message: "malformed chunked body: a line is too long" };
      const sizeText = /^([0-9A-Fa-f]{1,8})(?:[ \t]*;[\x20-\x7e\t]*)?$/.exec(line)?.[1];
      if (sizeText === undefined) return { code: "bad_request", message: "malformed chunked body: a bad chunk size line" };
      // Chunk extensions carry nothing the agent reads: as Node does since CVE-2024-22019, a
      // request may send at most MAX_CHUNK_EXTENSIONS bytes of them.
      state.extensions += line.length - sizeText.length;
      if (state.extensions > MAX_CHUNK_EXTENSIONS)
        return { code: "bad_request", message: `malformed chunked body: more than ${MAX_CHUNK_EXTENSIONS} bytes of chunk extensions` };
      const size = Number.parseInt(sizeText, 16);
      if (size === 0) {
        state.trailers = true;
        state.at = lineEnd + 2 - bodyStart;
        continue;
      }
      if (state.total + size > this.limits.maxBodyBytes) return bodyTooLarge(this.limits.maxBodyBytes);
      const dataStart = lineEnd + 2;
      if (this.#end < dataStart + size + 2) return "more";
      if (this.#buffer[dataStart + size] !== CR || this.#buffer[dataStart + size + 1] !== LF) {
        return { code: "bad_request", message: "malformed chunked body: a chunk is not followed by CR LF" };
      }
      state.parts.push(this.#buffer.slice(dataStart, dataStart + size));
      state.total += size;
      state.at = dataStart + size + 2 - bodyStart;
    }
  }
}

/** The request line and headers (without the closing empty line), checked and interpreted. */
export function parseHead(text: string): { head: RequestHead; framing: Framing } | ParseError {
  const lines = text.split("\r\n");
  const requestLine = lines[0]!;
  const parts = requestLine.split(" ");
  if (parts.length !== 3) return bad("malformed request line");
  const [method, target, protocol] = parts as [string, string, string];
  if (!METHODS.has(method)) return bad("malformed request line");
  if (!TARGET.test(target)) return bad("the request target must be a path (origin-form, starting with /)");
  const version = protocol === "HTTP/1.1" ? "1.1" : protocol === "HTTP/1.0" ? "1.0" : null;
  if (!version) return bad("only HTTP/1.0 and HTTP/1.1 are served");
  const headers: Array<[string, string]> = [];
  const lengths: string[] = [];
  let transferEncoding: string | null = null;
  let connection = "";
  let expectContinue = false;
  let hosts = 0;
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.includes("\r") || line.includes("\n")) return bad("header lines must end with CR LF");
    if (line.startsWith(" ") || line.startsWith("\t")) return bad("folded header lines are not accepted");
    const colon = line.indexOf(":");
    if (colon <= 0) return bad("malformed header line");
    const name = line.slice(0, colon);
    if (!TOKEN.test(name)) return bad("malformed header name");
    const value = line.slice(colon + 1).replace(/^[ \t]+|[ \t]+$/g, "");
    if (!FIELD_VALUE.test(value)) return bad("a header value holds a control character");
    headers.push([name, value]);
    switch (name.toLowerCase()) {
      case "content-length":
        lengths.push(value);
        break;
      case "transfer-encoding":
        transferEncoding = transferEncoding === null ? value : `${transferEncoding}, ${value}`;
        break;
      case "connection":
        connection += `,${value.toLowerCase()}`;
        break;
      case "expect":
        expectContinue = value.toLowerCase() === "100-continue";
        break;
      case "host":
        hosts += 1;
        break;
    }
  }
  if (hosts > 1) return bad("more than one Host header");
  let framing: Framing = { kind: "none" };
  if (transferEncoding !== null) {
    if (version === "1.0") return bad("Transfer-Encoding is not allowed in HTTP/1.0");
    if (lengths.length > 0) return bad("a request may not have both Content-Length and Transfer-Encoding");
    if (transferEncoding.toLowerCase() !== "chunked") return bad("only Transfer-Encoding: chunked is accepted");
    framing = { kind: "chunked" };
  } else if (lengths.length > 0) {
    // One Content-Length of digits: a repeated one, even agreeing, or a list is refused, as llhttp does.
    if (lengths.length > 1) return bad("more than one Content-Length");
    if (!/^\d{1,15}$/.test(lengths[0]!)) return bad("malformed Content-Length");
    const length = Number(lengths[0]);
    if (length > 0) framing = { kind: "length", length };
  }
  const tokens = connection.split(",").map((t) => t.trim());
  const keepAlive = version === "1.1" ? !tokens.includes("close") : tokens.includes("keep-alive");
  return { head: { method, target, version, headers, keepAlive, expectContinue: expectContinue && framing.kind !== "none" }, framing };
}

function bad(message: string): ParseError {
  return { code: "bad_request", message: `malformed HTTP request: ${message}` };
}

function tooLarge(): ParseStep {
  return { kind: "error", code: "headers_too_large", message: "the request headers are too large" };
}

function bodyTooLarge(max: number): ParseStep & ParseError {
  return { kind: "error", code: "payload_too_large", message: `request bodies are limited to ${max} bytes` };
}

function indexOfCrlf(bytes: Uint8Array, from: number, end: number): number {
  for (let i = from; i + 1 < end; i++) if (bytes[i] === CR && bytes[i + 1] === LF) return i;
  return -1;
}

/** Bytes as latin1 text: every byte one character, so lengths and offsets stay byte counts. */
function latin1(bytes: Uint8Array): string {
  let text = "";
  for (let i = 0; i < bytes.length; i += 8192) text += String.fromCharCode(...bytes.subarray(i, i + 8192));
  return text;
}

function concat(parts: Uint8Array[], total: number): Uint8Array {
  const out = new Uint8Array(total);
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}
