// MySQL client/server protocol framing (dev.mysql.com/doc/dev/mysql-server/latest/page_protocol_basic_packets.html):
// every packet is a 3-byte little-endian payload length, a 1-byte sequence number, the payload. A
// payload of 0xffffff bytes continues in the next packet. Pure: no sockets, no timers; the caller
// pushes bytes and takes steps, as src/http/parser.ts does for HTTP.

/** The largest payload one packet carries; a payload this long continues in the next packet. */
export const MAX_PACKET_PAYLOAD = 0xffffff;
const HEADER = 4;

export interface Packet {
  /** The sequence number: 0 for a command's first packet, then counting up in both directions. */
  seq: number;
  payload: Uint8Array;
}

export type PacketStep =
  /** Part of a packet, or nothing: more bytes are needed. */
  | { kind: "more" }
  | { kind: "packet"; packet: Packet }
  /** The peer sent a packet over the limit: the connection cannot be read further. */
  | { kind: "error"; message: string };

/**
 * Whole packets out of a byte stream, each at most `maxPayload` bytes (the login exchanges are
 * small: a limit keeps a peer from making the agent buffer what it likes before it is logged in).
 */
export class PacketReader {
  #buffer = new Uint8Array(0);
  #start = 0;
  #end = 0;
  #failed: string | null = null;

  constructor(private readonly maxPayload: number) {}

  get buffered(): number {
    return this.#end - this.#start;
  }

  push(bytes: Uint8Array): void {
    if (this.#end + bytes.length > this.#buffer.length) {
      const held = this.#end - this.#start;
      const next = new Uint8Array(Math.max(held + bytes.length, this.#buffer.length * 2, 256));
      next.set(this.#buffer.subarray(this.#start, this.#end));
      this.#buffer.fill(0);
      this.#buffer = next;
      this.#start = 0;
      this.#end = held;
    }
    this.#buffer.set(bytes, this.#end);
    this.#end += bytes.length;
  }

  next(): PacketStep {
    if (this.#failed) return { kind: "error", message: this.#failed };
    if (this.#end - this.#start < HEADER) return { kind: "more" };
    const b = this.#buffer;
    const length = b[this.#start]! | (b[this.#start + 1]! << 8) | (b[this.#start + 2]! << 16);
    if (length > this.maxPayload) {
      this.#failed = `a packet of ${length} bytes, over the ${this.maxPayload} allowed here`;
      return { kind: "error", message: this.#failed };
    }
    if (this.#end - this.#start < HEADER + length) return { kind: "more" };
    const seq = b[this.#start + 3]!;
    const payload = b.slice(this.#start + HEADER, this.#start + HEADER + length);
    // The payload may hold a password (a login, an auth-switch answer): its copy is the caller's.
    b.fill(0, this.#start, this.#start + HEADER + length);
    this.#start += HEADER + length;
    if (this.#start === this.#end) this.#start = this.#end = 0;
    return { kind: "packet", packet: { seq, payload } };
  }

  /** What arrived beyond the packets taken, for the relay that follows; the reader is empty after. */
  rest(): Uint8Array {
    const out = this.#buffer.slice(this.#start, this.#end);
    this.wipe();
    return out;
  }

  wipe(): void {
    this.#buffer.fill(0);
    this.#start = this.#end = 0;
  }
}

/** One packet's bytes: header and payload. A payload over MAX_PACKET_PAYLOAD is not sent by the proxy. */
export function packet(seq: number, payload: Uint8Array): Uint8Array {
  if (payload.length >= MAX_PACKET_PAYLOAD) throw new Error("packet payload too large");
  const out = new Uint8Array(HEADER + payload.length);
  out[0] = payload.length & 0xff;
  out[1] = (payload.length >> 8) & 0xff;
  out[2] = (payload.length >> 16) & 0xff;
  out[3] = seq & 0xff;
  out.set(payload, HEADER);
  return out;
}
