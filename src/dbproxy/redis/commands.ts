// The client's side of RESP (the Redis serialization protocol): commands out of a byte stream, for
// the Redis proxy (session.ts). Pure and incremental, in the manner of http/parser.ts, but built to
// stream: a command the proxy has no interest in is passed on as its bytes arrive (a SET of 100 MB
// is never held whole), and only the few commands the proxy acts on (AUTH, HELLO, RESET, ...) are
// kept until complete, bounded. Both forms the server reads are read: multibulk (`*N` then N `$len`
// strings, what every client library sends) and inline (a line of words, what telnet and
// `redis-cli` pipes send), with the server's own rules for what it ignores and what it refuses
// (src/networking.c: processMultibulkBuffer, processInlineBuffer).

/** What the proxy does with a command, by its name: pass it, or hold it for a decision. */
export type Interest = (name: string) => boolean;

export type CommandEvent =
  /** Bytes to forward as they are; `commands` is how many commands begin in them (each gets one reply, or the session's rule for it). */
  | { kind: "forward"; bytes: Uint8Array; commands: number }
  /** A whole command the proxy acts on, its arguments as views into `raw` (zero `raw` once used: an AUTH holds a password). */
  | { kind: "command"; name: string; args: Uint8Array[]; raw: Uint8Array }
  /** Not RESP: the server answers "-ERR Protocol error: …" and closes; so does the proxy. */
  | { kind: "error"; message: string };

const CR = 13;
const LF = 10;
// The server's own limits (server.h): PROTO_INLINE_MAX_SIZE, and a command name is far shorter.
const MAX_INLINE = 64 * 1024;
const MAX_HEADER = 64 * 1024;
const MAX_NAME = 32;
/** The server's default proto-max-bulk-len. */
const MAX_BULK = 512 * 1024 * 1024;
const MAX_ARGS = 1024 * 1024;
/** A command the proxy holds (AUTH, HELLO, SUBSCRIBE with many channels): far beyond any real one. */
const MAX_HELD = 1024 * 1024;

type State =
  /** Between commands. */
  | { at: "start" }
  /** Reading an inline command's line. */
  | { at: "inline" }
  /** Reading the `*N` line. */
  | { at: "count" }
  /** Reading argument `index`'s `$len` line; `left` arguments remain, this one included. */
  | { at: "bulk-header"; left: number; index: number }
  /** Inside an argument's bytes and their CRLF: `need` more bytes. */
  | { at: "bulk-body"; left: number; index: number; need: number };

export class CommandReader {
  #state: State = { at: "start" };
  /**
   * The current command's bytes not yet handed out: its name is needed before it can be passed
   * on, and a command of interest is kept whole.
   */
  #pending: Uint8Array[] = [];
  #pendingLength = 0;
  /** For the current command: pass its bytes on as they come, or hold it whole. */
  #mode: "undecided" | "pass" | "hold" = "undecided";
  /** A `*N` or `$len` line, or an inline line, as far as it has come. */
  #line: number[] = [];
  /** The current command's first argument, while it is short enough to be a name of interest. */
  #name: number[] = [];
  #failed = false;

  constructor(private readonly interesting: Interest) {}

  /** The events for the bytes given, in order. The caller may zero `chunk` only where a "command" event's `raw` lies. */
  push(chunk: Uint8Array): CommandEvent[] {
    const events: CommandEvent[] = [];
    if (this.#failed) return events;
    const emit = (bytes: Uint8Array, commands: number) => {
      const last = events[events.length - 1];
      if (last?.kind === "forward") {
        if (bytes.length === 0) {
          last.commands += commands;
          return;
        }
        if (last.bytes.buffer === bytes.buffer && last.bytes.byteOffset + last.bytes.length === bytes.byteOffset) {
          last.bytes = new Uint8Array(bytes.buffer, last.bytes.byteOffset, last.bytes.length + bytes.length);
          last.commands += commands;
          return;
        }
      }
      events.push({ kind: "forward", bytes, commands });
    };
    const releasePending = (commands: number) => {
      for (const part of this.#pending) emit(part, 0);
      emit(new Uint8Array(0), commands);
      this.#pending = [];
      this.#pendingLength = 0;
    };
    /** This chunk's [from, to) belongs to the current command. False past the bound on a held command. */
    const take = (from: number, to: number): boolean => {
      if (to <= from) return true;
      const part = chunk.subarray(from, to);
      if (this.#mode === "pass") {
        emit(part, 0);
        return true;
      }
      this.#pending.push(part);
      this.#pendingLength += part.length;
      return this.#pendingLength <= MAX_HELD;
    };
    const fail = (message: string) => {
      this.#failed = true;
      this.wipe();
      events.push({ kind: "error", message });
      return events;
    };
    let i = 0;
    while (i < chunk.length) {
      const s = this.#state;
      if (s.at === "start") {
        this.#mode = "undecided";
        this.#name = [];
        this.#state = chunk[i] === 0x2a ? { at: "count" } : { at: "inline" };
        continue;
      }
      if (s.at !== "bulk-body") {
        const lf = chunk.indexOf(LF, i);
        const end = lf < 0 ? chunk.length : lf + 1;
        if (this.#line.length + (end - i) > (s.at === "inline" ? MAX_INLINE : MAX_HEADER))
          return fail(s.at === "inline" ? "too big inline request" : "too big mbulk count string");
        for (let k = i; k < end; k++) this.#line.push(chunk[k]!);
        if (!take(i, end)) return fail(TOO_BIG);
        i = end;
        if (lf < 0) break;
        const line = this.#takeLine();
        if (s.at === "inline") {
          const words = splitInline(line);
          line.fill(0);
          if (words === null) return fail("unbalanced quotes in request");
          this.#state = { at: "start" };
          // An empty line is read and skipped by the server, with no answer.
          if (words.length === 0) releasePending(0);
          else this.#decide(latin1(words[0]!).toUpperCase(), words, events, releasePending);
          continue;
        }
        if (s.at === "count") {
          const n = parseLength(line.subarray(1));
          if (n === null || n > MAX_ARGS) return fail("invalid multibulk length");
          if (n <= 0) {
            // `*0` and `*-1` are read and ignored by the server, with no answer.
            this.#state = { at: "start" };
            releasePending(0);
          } else {
            this.#state = { at: "bulk-header", left: n, index: 0 };
          }
          continue;
        }
        if (line[0] !== 0x24) return fail(`expected '$', got '${String.fromCharCode(line[0] ?? 0x20)}'`);
        const length = parseLength(line.subarray(1));
        if (length === null || length < 0 || length > MAX_BULK) return fail("invalid bulk length");
        this.#state = { at: "bulk-body", left: s.left, index: s.index, need: length + 2 };
        // A name this long is no command of interest: the command is passed on as it comes.
        if (s.index === 0 && length > MAX_NAME) {
          this.#mode = "pass";
          releasePending(1);
        }
        continue;
      }
      const n = Math.min(s.need, chunk.length - i);
      if (s.index === 0 && this.#mode === "undecided") for (let k = i; k < i + n; k++) this.#name.push(chunk[k]!);
      if (!take(i, i + n)) return fail(TOO_BIG);
      i += n;
      s.need -= n;
      if (s.need > 0) break;
      if (s.index === 0 && this.#mode === "undecided") {
        const name = latin1(Uint8Array.from(this.#name.slice(0, -2))).toUpperCase();
        if (this.interesting(name)) this.#mode = "hold";
        else {
          this.#mode = "pass";
          releasePending(1);
        }
      }
      if (s.left > 1) {
        this.#state = { at: "bulk-header", left: s.left - 1, index: s.index + 1 };
        continue;
      }
      this.#state = { at: "start" };
      if (this.#mode === "hold") {
        const raw = concat(this.#pending, this.#pendingLength);
        this.#pending = [];
        this.#pendingLength = 0;
        const args = multibulkArgs(raw);
        events.push({ kind: "command", name: latin1(args[0]!).toUpperCase(), args, raw });
      }
    }
    // What is kept across chunks is copied (the caller's chunk is its own), and this chunk's copy zeroed.
    if (this.#pending.some((p) => p.buffer === chunk.buffer)) {
      this.#pending = this.#pending.map((p) => {
        if (p.buffer !== chunk.buffer) return p;
        const copy = p.slice();
        p.fill(0);
        return copy;
      });
    }
    return events;
  }

  /** Zeroes what is held (a partial AUTH) when the connection ends. */
  wipe(): void {
    for (const part of this.#pending) part.fill(0);
    this.#pending = [];
    this.#pendingLength = 0;
    this.#line.fill(0);
    this.#line = [];
    this.#name.fill(0);
    this.#name = [];
  }

  #decide(name: string, words: Uint8Array[], events: CommandEvent[], releasePending: (commands: number) => void): void {
    if (!this.interesting(name)) return releasePending(1);
    const raw = concat(this.#pending, this.#pendingLength);
    this.#pending = [];
    this.#pendingLength = 0;
    events.push({ kind: "command", name, args: words, raw });
  }

  #takeLine(): Uint8Array {
    let end = this.#line.length;
    if (end > 0 && this.#line[end - 1] === LF) end--;
    if (end > 0 && this.#line[end - 1] === CR) end--;
    const line = Uint8Array.from(this.#line.slice(0, end));
    this.#line.fill(0);
    this.#line = [];
    return line;
  }
}

const TOO_BIG = "a command of more than 1 MiB that the proxy reads whole";

/** A decimal length as the server reads it (string2ll): optional '-', digits, no spaces. */
function parseLength(line: Uint8Array): number | null {
  if (line.length === 0 || line.length > 20) return null;
  let i = 0;
  let negative = false;
  if (line[0] === 0x2d) {
    negative = true;
    i = 1;
    if (line.length === 1) return null;
  }
  let n = 0;
  for (; i < line.length; i++) {
    const d = line[i]! - 0x30;
    if (d < 0 || d > 9) return null;
    n = n * 10 + d;
  }
  return negative ? -n : n;
}

function latin1(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i++) s += String.fromCharCode(bytes[i]!);
  return s;
}

function concat(parts: Uint8Array[], length: number): Uint8Array {
  if (parts.length === 1) return parts[0]!;
  const out = new Uint8Array(length);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** The arguments of a whole multibulk command, as views into it. */
export function multibulkArgs(raw: Uint8Array): Uint8Array[] {
  const args: Uint8Array[] = [];
  let at = raw.indexOf(LF) + 1;
  while (at < raw.length) {
    const lf = raw.indexOf(LF, at);
    let headerEnd = lf;
    if (raw[headerEnd - 1] === CR) headerEnd--;
    const length = parseLength(raw.subarray(at + 1, headerEnd))!;
    args.push(raw.subarray(lf + 1, lf + 1 + length));
    at = lf + 1 + length + 2;
  }
  return args;
}

/**
 * An inline command's words, as the server splits them (sdssplitargs): spaces separate words;
 * "double quotes" take \n \r \t \b \a \\ \" and \xHH escapes; 'single quotes' take \'; a closing
 * quote must be followed by a space or the end. Null for unbalanced quotes.
 */
export function splitInline(line: Uint8Array): Uint8Array[] | null {
  const words: Uint8Array[] = [];
  let i = 0;
  const isSpace = (c: number | undefined) => c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d || c === 0x0b || c === 0x0c;
  for (;;) {
    while (i < line.length && isSpace(line[i])) i++;
    if (i >= line.length) return words;
    const word: number[] = [];
    let quote: 0 | 0x22 | 0x27 = 0;
    for (;;) {
      const c = line[i];
      if (quote === 0x22) {
        if (c === undefined) return null;
        if (c === 0x5c && line[i + 1] === 0x78 && isHex(line[i + 2]) && isHex(line[i + 3])) {
          word.push(parseInt(String.fromCharCode(line[i + 2]!, line[i + 3]!), 16));
          i += 4;
          continue;
        }
        if (c === 0x5c && line[i + 1] !== undefined) {
          const e = line[i + 1]!;
          word.push(e === 0x6e ? 10 : e === 0x72 ? 13 : e === 0x74 ? 9 : e === 0x62 ? 8 : e === 0x61 ? 7 : e);
          i += 2;
          continue;
        }
        if (c === 0x22) {
          if (i + 1 < line.length && !isSpace(line[i + 1])) return null;
          i++;
          break;
        }
        word.push(c);
        i++;
        continue;
      }
      if (quote === 0x27) {
        if (c === undefined) return null;
        if (c === 0x5c && line[i + 1] === 0x27) {
          word.push(0x27);
          i += 2;
          continue;
        }
        if (c === 0x27) {
          if (i + 1 < line.length && !isSpace(line[i + 1])) return null;
          i++;
          break;
        }
        word.push(c);
        i++;
        continue;
      }
      if (c === undefined || isSpace(c)) break;
      if (c === 0x22 || c === 0x27) {
        quote = c;
        i++;
        continue;
      }
      word.push(c);
      i++;
    }
    words.push(Uint8Array.from(word));
  }
}

function isHex(c: number | undefined): boolean {
  return c !== undefined && ((c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66));
}
