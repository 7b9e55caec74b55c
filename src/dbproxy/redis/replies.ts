// The server's side of RESP2 and RESP3: where each reply ends, for the Redis proxy (session.ts),
// which passes the server's bytes on untouched but must know where a reply ends to put its own
// answers (to AUTH) in their place and to take out the replies to its own commands. Pure and
// incremental; a reply's payload is skipped by its length, never copied, so the cost is a few
// operations per reply whatever its size. Only what the session decides on is kept: the type of
// each top-level reply and the first bytes of a simple string or error.

const LF = 10;
/** The first bytes of a simple string or error kept for the session ("OK", "RESET", "WRONGPASS …"). */
const KEEP = 64;

/** A top-level reply just completed: its RESP type byte ('+', '-', '$', '*', '%', '>', ...) and, for '+' and '-', its start. */
export interface Reply {
  type: number;
  /** The text of a simple string or error (its first 64 bytes), else "". */
  text: string;
  /** A RESP3 push ('>'): out of band, not the answer to a command. */
  push: boolean;
}

export type ScanStep =
  /** Everything given up to `end` belongs to replies not yet complete. */
  | { kind: "more" }
  /** A top-level reply ends at `end` (an index into the chunk, exclusive). */
  | { kind: "reply"; end: number; reply: Reply }
  /** Not RESP: the session closes the connection. */
  | { kind: "error"; message: string };

interface Frame {
  /** Elements still to come. */
  left: number;
  /** An attribute ('|'): it describes the element after it and does not count as one. */
  attribute: boolean;
}

const MORE: ScanStep = { kind: "more" };

export class ReplyScanner {
  // One step and one reply, reused: a pipelined stream completes thousands of replies a second,
  // and the caller reads each before asking for the next (valid until the next scan).
  readonly #reply: Reply = { type: 0, text: "", push: false };
  readonly #step: { kind: "reply"; end: number; reply: Reply } = { kind: "reply", end: 0, reply: this.#reply };
  #line: number[] = [];
  #lineLength = 0;
  /** Payload bytes (and CRLF) of a bulk string still to skip. */
  #skip = 0;
  #stack: Frame[] = [];
  /** A top-level reply has begun (its first line read, after any attribute); its facts are in #reply. */
  #inTop = false;

  /**
   * Scans `chunk` from `from`: stops at the end of the first top-level reply completed, or at the
   * end of the chunk. Call again from `end` for the rest. The step returned is valid until the next call.
   */
  scan(chunk: Uint8Array, from: number): ScanStep {
    let i = from;
    while (i < chunk.length) {
      if (this.#skip > 0) {
        const n = Math.min(this.#skip, chunk.length - i);
        this.#skip -= n;
        i += n;
        if (this.#skip > 0) return MORE;
        if (this.#elementDone()) return this.#replyAt(i);
        continue;
      }
      const lf = chunk.indexOf(LF, i);
      const end = lf < 0 ? chunk.length : lf + 1;
      for (let k = i; k < end && this.#line.length < KEEP + 2; k++) this.#line.push(chunk[k]!);
      this.#lineLength += end - i;
      i = end;
      if (lf < 0) return MORE;
      const step = this.#lineDone();
      if (step === true) return this.#replyAt(i);
      if (step) return step;
    }
    return MORE;
  }

  #replyAt(end: number): ScanStep {
    this.#step.end = end;
    return this.#step;
  }

  /** True when a top-level reply completed (it is in #reply), an error, or null. */
  #lineDone(): true | { kind: "error"; message: string } | null {
    const line = this.#line;
    const type = line[0]!;
    const full = this.#lineLength;
    this.#line = [];
    this.#lineLength = 0;
    let textEnd = line.length;
    if (textEnd === full) {
      // The whole line is kept: drop its CRLF.
      if (line[textEnd - 1] === LF) textEnd--;
      if (line[textEnd - 1] === 13) textEnd--;
    }
    const beginsTop = this.#stack.length === 0 && !this.#inTop;
    switch (type) {
      case 0x2b: // + simple string
      case 0x2d: // - error
      case 0x3a: // : integer
      case 0x2c: // , double
      case 0x23: // # boolean
      case 0x5f: // _ null
      case 0x28: {
        // ( big number
        if (beginsTop) this.#begin(type, type === 0x2b || type === 0x2d ? latin1(line, 1, textEnd) : "", false);
        return this.#elementDone() || null;
      }
      case 0x24: // $ bulk string
      case 0x21: // ! bulk error
      case 0x3d: {
        // = verbatim string
        const n = parseNumber(line, 1, textEnd);
        if (n === null || n < -1) return { kind: "error", message: "the server sent a malformed bulk length" };
        if (beginsTop) this.#begin(type, "", false);
        if (n === -1) return this.#elementDone() || null;
        this.#skip = n + 2;
        return null;
      }
      case 0x2a: // * array
      case 0x25: // % map
      case 0x7e: // ~ set
      case 0x3e: // > push
      case 0x7c: {
        // | attribute
        const n = parseNumber(line, 1, textEnd);
        if (n === null || n < -1) return { kind: "error", message: "the server sent a malformed aggregate length" };
        const attribute = type === 0x7c;
        if (beginsTop && !attribute) this.#begin(type, "", type === 0x3e);
        const elements = type === 0x25 || attribute ? n * 2 : n;
        if (elements <= 0) {
          if (attribute) return null;
          return this.#elementDone() || null;
        }
        this.#stack.push({ left: elements, attribute });
        return null;
      }
      default:
        return { kind: "error", message: `the server sent a reply of unknown type '${String.fromCharCode(type)}'` };
    }
  }

  #begin(type: number, text: string, push: boolean): void {
    this.#reply.type = type;
    this.#reply.text = text;
    this.#reply.push = push;
    this.#inTop = true;
  }

  /** An element is complete: count it in its aggregate; true when it completes a top-level reply. */
  #elementDone(): boolean {
    for (;;) {
      const frame = this.#stack[this.#stack.length - 1];
      if (!frame) {
        const top = this.#inTop;
        this.#inTop = false;
        return top;
      }
      frame.left--;
      if (frame.left > 0) return false;
      this.#stack.pop();
      // A finished attribute is no element of what encloses it.
      if (frame.attribute) return false;
    }
  }
}

function parseNumber(line: number[], from: number, to: number): number | null {
  if (to <= from || to - from > 20) return null;
  let i = from;
  const negative = line[i] === 0x2d;
  if (negative) i++;
  if (i >= to) return null;
  let n = 0;
  for (; i < to; i++) {
    const d = line[i]! - 0x30;
    if (d < 0 || d > 9) return null;
    n = n * 10 + d;
  }
  return negative ? -n : n;
}

function latin1(line: number[], from: number, to: number): string {
  return String.fromCharCode(...line.slice(from, Math.min(to, from + KEEP)));
}
