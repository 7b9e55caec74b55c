// Reading and writing the MySQL protocol's basic data types (page_protocol_basic_data_types):
// little-endian fixed integers, length-encoded integers and strings, NUL-terminated strings.

export class MalformedPacket extends Error {}

export class ByteReader {
  at = 0;
  constructor(readonly bytes: Uint8Array) {}

  get left(): number {
    return this.bytes.length - this.at;
  }

  #need(n: number): void {
    if (this.at + n > this.bytes.length) throw new MalformedPacket("a packet ends early");
  }

  int(n: 1 | 2 | 3 | 4): number {
    this.#need(n);
    let v = 0;
    for (let i = n - 1; i >= 0; i--) v = v * 256 + this.bytes[this.at + i]!;
    this.at += n;
    return v;
  }

  /** A length-encoded integer (up to 2^53: larger lengths cannot be in a packet anyway). */
  lenenc(): number {
    const first = this.int(1);
    if (first < 0xfb) return first;
    if (first === 0xfc) return this.int(2);
    if (first === 0xfd) return this.int(3);
    if (first === 0xfe) {
      const low = this.int(4);
      const high = this.int(4);
      if (high >= 1 << 21) throw new MalformedPacket("a length-encoded integer out of range");
      return high * 2 ** 32 + low;
    }
    throw new MalformedPacket(`0x${first.toString(16)} does not begin a length-encoded integer`);
  }

  take(n: number): Uint8Array {
    this.#need(n);
    const out = this.bytes.subarray(this.at, this.at + n);
    this.at += n;
    return out;
  }

  lenencBytes(): Uint8Array {
    return this.take(this.lenenc());
  }

  /** Up to the next NUL, which is skipped; `orEnd`: the end of the packet ends it too (an optional trailing NUL). */
  nulBytes(orEnd = false): Uint8Array {
    const end = this.bytes.indexOf(0, this.at);
    if (end < 0) {
      if (!orEnd) throw new MalformedPacket("a string is not NUL-terminated");
      return this.rest();
    }
    const out = this.bytes.subarray(this.at, end);
    this.at = end + 1;
    return out;
  }

  nulString(orEnd = false): string {
    return utf8(this.nulBytes(orEnd));
  }

  rest(): Uint8Array {
    const out = this.bytes.subarray(this.at);
    this.at = this.bytes.length;
    return out;
  }
}

export class ByteWriter {
  #parts: Uint8Array[] = [];
  #length = 0;

  bytes(b: Uint8Array): this {
    this.#parts.push(b);
    this.#length += b.length;
    return this;
  }

  int(n: 1 | 2 | 3 | 4, value: number): this {
    const b = new Uint8Array(n);
    let v = value >>> 0;
    for (let i = 0; i < n; i++) {
      b[i] = v & 0xff;
      v = Math.floor(v / 256);
    }
    return this.bytes(b);
  }

  lenenc(value: number): this {
    if (value < 0xfb) return this.int(1, value);
    if (value < 0x10000) return this.int(1, 0xfc).int(2, value);
    if (value < 0x1000000) return this.int(1, 0xfd).int(3, value);
    return this.int(1, 0xfe)
      .int(4, value % 2 ** 32)
      .int(4, Math.floor(value / 2 ** 32));
  }

  lenencBytes(b: Uint8Array): this {
    return this.lenenc(b.length).bytes(b);
  }

  nulString(s: string | Uint8Array): this {
    const b = typeof s === "string" ? encoder.encode(s) : s;
    if (b.includes(0)) throw new MalformedPacket("a NUL inside a NUL-terminated string");
    return this.bytes(b).int(1, 0);
  }

  zeros(n: number): this {
    return this.bytes(new Uint8Array(n));
  }

  /** The bytes written; the parts given are not zeroed (the caller zeroes its secrets). */
  done(): Uint8Array {
    const out = new Uint8Array(this.#length);
    let at = 0;
    for (const p of this.#parts) {
      out.set(p, at);
      at += p.length;
    }
    return out;
  }
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function utf8(b: Uint8Array): string {
  return decoder.decode(b);
}

export function text(s: string): Uint8Array {
  return encoder.encode(s);
}
