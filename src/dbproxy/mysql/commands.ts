// Which of the client's packets, once logged in, begin a command the proxy must answer itself:
// COM_CHANGE_USER carries a user and a password of the client's, which never reach the server.
// The relay passes everything else as it comes; this walks the packet headers in the client's
// bytes (never the payloads) to find where each command begins. Pure, as packets.ts.
//
// A command is the packet with sequence number 0 that follows the end of the previous exchange.
// Sequence numbers wrap at 256, so inside a long upload (LOAD DATA LOCAL INFILE sends its file as
// packets 2, 3, ... 255, 0, 1, ...) a packet numbered 0 continues the upload: it follows a packet
// numbered 255 with no word from the server in between. After the server spoke, a packet 0 is a
// new command.

import { MAX_PACKET_PAYLOAD } from "./packets.ts";

export const COM_QUIT = 0x01;
export const COM_CHANGE_USER = 0x11;
export const COM_RESET_CONNECTION = 0x1f;

export interface ScanResult {
  /** Bytes to relay to the server as they are. */
  pass: Uint8Array;
  /** From the start of a command the proxy answers (its first payload byte is the command) to the chunk's end; null when none began. */
  intercepted: Uint8Array | null;
}

export class CommandScanner {
  /** Payload bytes of the current packet still to pass. */
  #remaining = 0;
  /** A header (and the command byte after it) split across chunks: held until it is whole. */
  #held: Uint8Array | null = null;
  #lastSeq = -1;
  /** The last packet was MAX_PACKET_PAYLOAD long: the next one continues it. */
  #continues = false;
  #serverSpoke = true;

  constructor(private readonly intercept: (command: number) => boolean) {}

  /** The relay saw bytes from the server since the client's last packet. */
  serverSpoke(): void {
    this.#serverSpoke = true;
  }

  scan(chunk: Uint8Array): ScanResult {
    let bytes = chunk;
    if (this.#held) {
      bytes = new Uint8Array(this.#held.length + chunk.length);
      bytes.set(this.#held);
      bytes.set(chunk, this.#held.length);
      this.#held = null;
    }
    let at = 0;
    while (at < bytes.length) {
      if (this.#remaining > 0) {
        const step = Math.min(this.#remaining, bytes.length - at);
        this.#remaining -= step;
        at += step;
        continue;
      }
      if (bytes.length - at < 4) break;
      const length = bytes[at]! | (bytes[at + 1]! << 8) | (bytes[at + 2]! << 16);
      const seq = bytes[at + 3]!;
      const begins = !this.#continues && seq === 0 && (this.#lastSeq !== 255 || this.#serverSpoke);
      if (begins && length > 0) {
        if (bytes.length - at < 5) break;
        if (this.intercept(bytes[at + 4]!)) return { pass: bytes.subarray(0, at), intercepted: bytes.subarray(at) };
      }
      this.#lastSeq = seq;
      this.#continues = length === MAX_PACKET_PAYLOAD;
      this.#serverSpoke = false;
      this.#remaining = length;
      at += 4;
    }
    if (at < bytes.length) this.#held = bytes.slice(at);
    return { pass: bytes.subarray(0, at), intercepted: null };
  }
}
