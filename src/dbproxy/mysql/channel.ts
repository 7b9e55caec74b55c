import { CredagentError } from "../../errors.ts";
import { type Packet, PacketReader } from "./packets.ts";

// Whole packets, awaited, during the exchanges the proxy takes part in (its client's login, its
// own login to the server, a change of user). Bytes are pushed in by whoever reads the socket;
// a deadline, the peer's end or a limit breached ends the waiting with an error.

/** The login exchanges are small: a client's answer with its connection attributes, a server's RSA key. */
export const LOGIN_PACKET_LIMIT = 64 * 1024;

export class PacketChannel {
  readonly #reader = new PacketReader(LOGIN_PACKET_LIMIT);
  #waiting: (() => void) | undefined;
  #failed: Error | undefined;

  /** `what` names the peer in errors ("the client", "the database server"); `maxBuffered` caps what may wait unread. */
  constructor(
    private readonly what: string,
    private readonly maxBuffered = 4 * LOGIN_PACKET_LIMIT,
  ) {}

  push(bytes: Uint8Array): void {
    if (this.#failed) return;
    this.#reader.push(bytes);
    if (this.#reader.buffered > this.maxBuffered)
      this.fail(new CredagentError("bad_request", `${this.what} sent more than ${this.maxBuffered} bytes before the login was done`));
    this.#waiting?.();
  }

  /** No packet will come: the peer closed, or a deadline passed. Waiting receivers get `err`. */
  fail(err: Error): void {
    this.#failed ??= err;
    this.#reader.wipe();
    this.#waiting?.();
  }

  async receive(): Promise<Packet> {
    for (;;) {
      if (this.#failed) throw this.#failed;
      const step = this.#reader.next();
      if (step.kind === "packet") return step.packet;
      if (step.kind === "error") {
        this.fail(new CredagentError("bad_request", `${this.what} sent ${step.message}`));
        continue;
      }
      await new Promise<void>((resolve) => (this.#waiting = resolve));
      this.#waiting = undefined;
    }
  }

  /** Bytes that came after the packets received, for the relay; the channel takes no more. */
  rest(): Uint8Array {
    const out = this.#reader.rest();
    this.fail(new CredagentError("unavailable", `${this.what}: the login exchange is over`));
    return out;
  }
}
