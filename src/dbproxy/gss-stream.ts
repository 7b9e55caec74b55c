import type net from "node:net";
import { Duplex } from "node:stream";
import { CredagentError, describe } from "../errors.ts";
import type { GssInitiator } from "../native/gssapi.ts";
import { gssPacket } from "./wire.ts";

// A PostgreSQL connection under GSS encryption (protocol 3.0 after GSSENCRequest, PostgreSQL 12+):
// every message both ways travels sealed (gss_wrap: encrypted and integrity-protected) in packets of
// a 32-bit length and the sealed bytes. The server takes packets of at most 16 KiB with their length
// (PQ_GSS_RECV_BUFFER_SIZE in be-secure-gssapi.c), so what is written is cut to fit; what it sends
// is unsealed as whole packets arrive. To the proxy this is one more socket it relays bytes through.

/** The server's limit on a packet, its length included. */
const PACKET_LIMIT = 16_384;
/** What is accepted from the server: its own packets are at most PACKET_LIMIT; room for a future larger one. */
const MAX_INCOMING = 1 << 20;

export class SealedStream extends Duplex {
  readonly #raw: net.Socket;
  readonly #gss: GssInitiator;
  readonly #maxPlain: number;
  #pending: Buffer = Buffer.alloc(0);

  /** `early`: bytes of the server's that arrived with the end of the handshake. */
  constructor(raw: net.Socket, gss: GssInitiator, early: Buffer) {
    super();
    this.#raw = raw;
    this.#gss = gss;
    this.#maxPlain = gss.wrapSizeLimit(PACKET_LIMIT - 4);
    raw.on("data", (chunk: Buffer) => this.#receive(chunk));
    raw.on("end", () => this.push(null));
    raw.on("error", (err) => this.destroy(err));
    raw.on("close", () => this.destroy());
    if (early.length > 0) this.#receive(early);
  }

  #receive(chunk: Buffer): void {
    this.#pending = this.#pending.length > 0 ? Buffer.concat([this.#pending, chunk]) : chunk;
    while (this.#pending.length >= 4) {
      const length = this.#pending.readUInt32BE(0);
      if (length > MAX_INCOMING) {
        this.destroy(new CredagentError("upstream_auth", `the database server sent a GSS packet of ${length} bytes`));
        return;
      }
      if (this.#pending.length < 4 + length) return;
      const sealed = this.#pending.subarray(4, 4 + length);
      this.#pending = this.#pending.subarray(4 + length);
      let plain: Uint8Array;
      try {
        plain = this.#gss.unwrap(sealed);
      } catch (err) {
        this.destroy(new CredagentError("upstream_auth", describe(err), { cause: err }));
        return;
      }
      if (!this.push(Buffer.from(plain.buffer, plain.byteOffset, plain.byteLength))) this.#raw.pause();
    }
  }

  override _read(): void {
    this.#raw.resume();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: (err?: Error | null) => void): void {
    let packets: Buffer;
    try {
      const parts: Buffer[] = [];
      for (let at = 0; at < chunk.length; at += this.#maxPlain)
        parts.push(gssPacket(this.#gss.wrap(chunk.subarray(at, at + this.#maxPlain))));
      packets = parts.length === 1 ? parts[0]! : Buffer.concat(parts);
    } catch (err) {
      done(err as Error);
      return;
    }
    if (this.#raw.write(packets)) done();
    else this.#raw.once("drain", () => done());
  }

  override _final(done: (err?: Error | null) => void): void {
    this.#raw.end();
    done();
  }

  override _destroy(err: Error | null, done: (err?: Error | null) => void): void {
    this.#raw.destroy();
    this.#gss.dispose();
    done(err);
  }
}
