import { CredagentError } from "./errors.ts";

// A secret is a value that prints as [redacted] however it is printed: String(), template
// literals, JSON.stringify, console.log / Bun.inspect. Only reveal() and bytes() give the value,
// so every place that lets a secret out is a grep for "reveal(" or "bytes(".
//
// The value is held as bytes, not as a string: JavaScript strings are immutable and stay in
// memory until collected and the memory reused, while bytes can be overwritten. wipe() zeroes
// them (on lock, expiry, removal), so what the agent holds is gone at once, not some time later.
const inspect = Symbol.for("nodejs.util.inspect.custom");
const REDACTED = "[redacted]";
const encoder = new TextEncoder();
const decoder = new TextDecoder();

export class Secret {
  #bytes: Uint8Array;
  #wiped = false;

  /** From a string (copied into bytes), or from bytes that the Secret then owns and will zero. */
  constructor(value: string | Uint8Array) {
    this.#bytes = typeof value === "string" ? encoder.encode(value) : value;
  }

  /** The value as a new string: use bytes() where the value can stay bytes. */
  reveal(): string {
    return decoder.decode(this.bytes());
  }

  /** The bytes held (a view, not a copy: do not keep it, and do not change it). */
  bytes(): Uint8Array {
    if (this.#wiped)
      throw new CredagentError("locked", "this secret was dropped from memory (the agent was locked, or the value expired or was removed)");
    return this.#bytes;
  }

  get byteLength(): number {
    return this.#wiped ? 0 : this.#bytes.byteLength;
  }

  get wiped(): boolean {
    return this.#wiped;
  }

  /** Overwrites the value with zeros; the Secret is unusable afterwards. */
  wipe(): void {
    this.#bytes.fill(0);
    this.#wiped = true;
  }

  equals(other: Secret): boolean {
    const a = this.bytes();
    const b = other.bytes();
    return a.byteLength === b.byteLength && crypto.timingSafeEqual(a, b);
  }

  toString(): string {
    return REDACTED;
  }
  toJSON(): string {
    return REDACTED;
  }
  [inspect](): string {
    return REDACTED;
  }
  [Symbol.toPrimitive](): string {
    return REDACTED;
  }
}

/**
 * A copy of bytes that the runtime will not move: over an ArrayBuffer of its own. A small
 * Uint8Array (up to about 1,000 bytes) keeps its bytes inside the runtime's heap object, and the
 * first .buffer, .subarray(), crypto.subtle call or native library it meets moves them to a new
 * backing store, leaving the old bytes behind, never zeroed. A secret headed there goes in one of
 * these first, zeroed by its user once done with.
 */
export function unmovableCopy(bytes: ArrayLike<number>): Uint8Array {
  const copy = new Uint8Array(new ArrayBuffer(bytes.length));
  copy.set(bytes);
  return copy;
}

const BASE64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/**
 * `prefix` (ASCII) then the standard, padded base64 of `bytes`, written straight into an unmovable
 * buffer the caller owns: no string and no pooled Buffer ever holds the encoded value (the runtime's
 * encoders give strings, which cannot be zeroed). For values such as an Authorization header's.
 */
export function base64Bytes(bytes: Uint8Array, prefix = ""): Uint8Array {
  const out = new Uint8Array(new ArrayBuffer(prefix.length + Math.ceil(bytes.length / 3) * 4));
  let o = 0;
  for (; o < prefix.length; o++) out[o] = prefix.charCodeAt(o) & 0x7f;
  let i = 0;
  for (; i + 2 < bytes.length; i += 3) {
    const n = (bytes[i]! << 16) | (bytes[i + 1]! << 8) | bytes[i + 2]!;
    out[o++] = BASE64.charCodeAt(n >> 18);
    out[o++] = BASE64.charCodeAt((n >> 12) & 63);
    out[o++] = BASE64.charCodeAt((n >> 6) & 63);
    out[o++] = BASE64.charCodeAt(n & 63);
  }
  if (i < bytes.length) {
    const two = i + 1 < bytes.length;
    const n = (bytes[i]! << 16) | (two ? bytes[i + 1]! << 8 : 0);
    out[o++] = BASE64.charCodeAt(n >> 18);
    out[o++] = BASE64.charCodeAt((n >> 12) & 63);
    out[o++] = two ? BASE64.charCodeAt((n >> 6) & 63) : 61;
    out[o++] = 61;
  }
  return out;
}
