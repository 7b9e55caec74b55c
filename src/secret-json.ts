import { Secret } from "./secret.ts";

// JSON in and out without the secret in it ever becoming a JavaScript string. A string cannot be
// overwritten and outlives its use in freed memory; bytes can be zeroed once used. Only the
// secret parts take this path: everything else is ordinary JSON.parse / JSON.stringify.

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

export type JsonField = string | number | boolean | null | Secret | JsonFields;
export interface JsonFields {
  [key: string]: JsonField | undefined;
}

/** A JSON object whose Secret values (at any depth) are written from their bytes; undefined members are left out. */
export function encodeJsonWithSecrets(fields: JsonFields): Uint8Array {
  const parts: Uint8Array[] = [];
  encodeObject(fields, parts);
  return concat(parts, { wipeParts: true });
}

function encodeObject(fields: JsonFields, parts: Uint8Array[]): void {
  let first = true;
  for (const [key, value] of Object.entries(fields)) {
    if (value === undefined) continue;
    parts.push(encoder.encode(`${first ? "{" : ","}${JSON.stringify(key)}:`));
    first = false;
    if (value instanceof Secret) {
      parts.push(escapeJsonString(value.bytes()));
    } else if (value !== null && typeof value === "object") {
      encodeObject(value, parts);
    } else {
      parts.push(encoder.encode(JSON.stringify(value)));
    }
  }
  parts.push(encoder.encode(first ? "{}" : "}"));
}

/** The bytes as a JSON string literal, quotes included. */
function escapeJsonString(bytes: Uint8Array): Uint8Array {
  let extra = 0;
  for (const b of bytes)
    if (b === QUOTE || b === BACKSLASH) extra += 1;
    else if (b < 0x20) extra += 5;
  const out = new Uint8Array(bytes.byteLength + extra + 2);
  let o = 0;
  out[o++] = QUOTE;
  for (const b of bytes) {
    if (b === QUOTE || b === BACKSLASH) {
      out[o++] = BACKSLASH;
      out[o++] = b;
    } else if (b < 0x20) {
      const hex = b.toString(16).padStart(4, "0");
      out.set(encoder.encode(`\\u${hex}`), o);
      o += 6;
    } else {
      out[o++] = b;
    }
  }
  out[o++] = QUOTE;
  return out;
}

export class JsonSyntaxError extends Error {}

export interface ParsedWithSecrets {
  /** The document with the secret members removed. */
  value: Record<string, unknown>;
  /** The top-level string members named as secret, as bytes the caller owns. */
  secrets: Map<string, Uint8Array>;
}

/**
 * Parses a JSON object from bytes; the top-level string members named in secretKeys come back
 * as bytes and are left out of `value`. The input is not changed (the caller wipes it).
 * Throws JsonSyntaxError, whose message never quotes the input.
 */
export function parseJsonWithSecrets(bytes: Uint8Array, secretKeys: readonly string[]): ParsedWithSecrets {
  const ranges: Array<{ key: string; start: number; end: number; memberStart: number; memberEnd: number }> = [];
  const scanner = new Scanner(bytes);
  scanner.topLevelObject((key, valueStart, memberStart) => {
    if (!secretKeys.includes(key) || bytes[valueStart] !== QUOTE) return null;
    const end = scanner.skipString(valueStart);
    ranges.push({ key, start: valueStart + 1, end: end - 1, memberStart, memberEnd: end });
    return end;
  });
  // Everything but the secret members goes through JSON.parse, which also validates it all.
  const masked: Uint8Array[] = [];
  let at = 0;
  for (const r of ranges) {
    masked.push(bytes.subarray(at, r.start), bytes.subarray(r.end, r.memberEnd));
    at = r.memberEnd;
  }
  masked.push(bytes.subarray(at));
  const maskedBytes = concat(masked);
  let value: unknown;
  try {
    value = JSON.parse(decoder.decode(maskedBytes));
  } catch {
    throw new JsonSyntaxError("malformed JSON");
  }
  const secrets = new Map<string, Uint8Array>();
  for (const r of ranges) {
    delete (value as Record<string, unknown>)[r.key];
    const previous = secrets.get(r.key);
    previous?.fill(0);
    secrets.set(r.key, unescapeJsonString(bytes.subarray(r.start, r.end)));
  }
  return { value: value as Record<string, unknown>, secrets };
}

function concat(parts: Uint8Array[], options: { wipeParts?: boolean } = {}): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.byteLength;
    if (options.wipeParts) p.fill(0);
  }
  return out;
}

const SIMPLE_ESCAPES: Record<number, number> = {
  0x22: 0x22,
  0x5c: 0x5c,
  0x2f: 0x2f,
  0x62: 0x08,
  0x66: 0x0c,
  0x6e: 0x0a,
  0x72: 0x0d,
  0x74: 0x09,
};

/** The content of a JSON string literal (between the quotes) as UTF-8 bytes. */
function unescapeJsonString(raw: Uint8Array): Uint8Array {
  if (!raw.includes(BACKSLASH)) return raw.slice();
  const out = new Uint8Array(raw.byteLength);
  let o = 0;
  for (let i = 0; i < raw.byteLength; i++) {
    const b = raw[i]!;
    if (b !== BACKSLASH) {
      out[o++] = b;
      continue;
    }
    const e = raw[++i]!;
    const simple = SIMPLE_ESCAPES[e];
    if (simple !== undefined) {
      out[o++] = simple;
      continue;
    }
    // \uXXXX, with a surrogate pair when the code point needs one. Rare in tokens.
    let code = parseInt(decoder.decode(raw.subarray(i + 1, i + 5)), 16);
    i += 4;
    if (code >= 0xd800 && code < 0xdc00 && raw[i + 1] === BACKSLASH && raw[i + 2] === 0x75) {
      const low = parseInt(decoder.decode(raw.subarray(i + 3, i + 7)), 16);
      code = 0x10000 + ((code - 0xd800) << 10) + (low - 0xdc00);
      i += 6;
    }
    o = writeUtf8(out, o, code);
  }
  const result = out.slice(0, o);
  out.fill(0);
  return result;
}

function writeUtf8(out: Uint8Array, o: number, code: number): number {
  if (code < 0x80) out[o++] = code;
  else if (code < 0x800) {
    out[o++] = 0xc0 | (code >> 6);
    out[o++] = 0x80 | (code & 0x3f);
  } else if (code < 0x10000) {
    out[o++] = 0xe0 | (code >> 12);
    out[o++] = 0x80 | ((code >> 6) & 0x3f);
    out[o++] = 0x80 | (code & 0x3f);
  } else {
    out[o++] = 0xf0 | (code >> 18);
    out[o++] = 0x80 | ((code >> 12) & 0x3f);
    out[o++] = 0x80 | ((code >> 6) & 0x3f);
    out[o++] = 0x80 | (code & 0x3f);
  }
  return o;
}

/** Just enough of a JSON reader to find where the top-level members are; JSON.parse validates the rest. */
class Scanner {
  constructor(private readonly b: Uint8Array) {}

  topLevelObject(onMember: (key: string, valueStart: number, memberStart: number) => number | null): void {
    let i = this.#ws(0);
    if (this.b[i] !== 0x7b) throw new JsonSyntaxError("not a JSON object");
    i = this.#ws(i + 1);
    if (this.b[i] === 0x7d) return;
    for (;;) {
      if (this.b[i] !== QUOTE) throw new JsonSyntaxError("malformed JSON");
      const memberStart = i;
      const keyEnd = this.skipString(i);
      let key: string;
      try {
        key = JSON.parse(decoder.decode(this.b.subarray(i, keyEnd))) as string;
      } catch {
        throw new JsonSyntaxError("malformed JSON");
      }
      i = this.#ws(keyEnd);
      if (this.b[i] !== 0x3a) throw new JsonSyntaxError("malformed JSON");
      i = this.#ws(i + 1);
      i = this.#ws(onMember(key, i, memberStart) ?? this.#skipValue(i));
      if (this.b[i] === 0x2c) {
        i = this.#ws(i + 1);
        continue;
      }
      if (this.b[i] === 0x7d) return;
      throw new JsonSyntaxError("malformed JSON");
    }
  }

  /** From an opening quote to just past the closing one. */
  skipString(i: number): number {
    for (let j = i + 1; j < this.b.byteLength; j++) {
      const c = this.b[j];
      if (c === BACKSLASH) j++;
      else if (c === QUOTE) return j + 1;
    }
    throw new JsonSyntaxError("malformed JSON: a string is not closed");
  }

  #skipValue(i: number): number {
    const c = this.b[i];
    if (c === QUOTE) return this.skipString(i);
    if (c === 0x7b || c === 0x5b) {
      let depth = 0;
      for (let j = i; j < this.b.byteLength; j++) {
        const d = this.b[j];
        if (d === QUOTE) j = this.skipString(j) - 1;
        else if (d === 0x7b || d === 0x5b) depth++;
        else if (d === 0x7d || d === 0x5d) {
          depth--;
          if (depth === 0) return j + 1;
        }
      }
      throw new JsonSyntaxError("malformed JSON");
    }
    let j = i;
    while (j < this.b.byteLength && ![0x2c, 0x7d, 0x5d, 0x20, 0x09, 0x0a, 0x0d].includes(this.b[j]!)) j++;
    return j;
  }

  #ws(i: number): number {
    while (i < this.b.byteLength && (this.b[i] === 0x20 || this.b[i] === 0x09 || this.b[i] === 0x0a || this.b[i] === 0x0d)) i++;
    return i;
  }
}
