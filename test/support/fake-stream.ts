import type { Stream, TcpAddresses, Transport } from "../../src/transport/stream.ts";

/** A Stream in memory: what was written, whether it was ended or destroyed; bytes fed with `receive`. */
export class FakeStream implements Stream {
  readonly written: Uint8Array[] = [];
  ended = false;
  destroyed = false;
  paused = false;
  pendingBytes = 0;
  onDrain = () => {};
  onData: (bytes: Uint8Array) => void = () => {};
  onEnd = () => {};
  onClose = () => {};

  constructor(
    readonly transport: Transport = "unix",
    readonly fd: number | undefined = 3,
    readonly addresses: TcpAddresses | null = null,
  ) {}

  write(bytes: Uint8Array, written?: () => void): void {
    if (this.destroyed || this.ended) return written?.();
    this.written.push(bytes.slice());
    written?.();
  }
  end(): void {
    if (this.ended || this.destroyed) return;
    this.ended = true;
    this.close();
  }
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.close();
  }
  pause(): void {
    this.paused = true;
  }
  resume(): void {
    this.paused = false;
  }
  /** The peer sends bytes. */
  receive(text: string | Uint8Array): void {
    this.onData(typeof text === "string" ? new TextEncoder().encode(text) : text);
  }
  /** Everything written, as text. */
  text(): string {
    return this.written.map((b) => new TextDecoder().decode(b)).join("");
  }
  #closed = false;
  private close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.onClose();
  }
}
