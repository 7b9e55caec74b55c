import type net from "node:net";

// An accepted connection as the agent's request server sees it, whatever accepted it: Bun's own
// sockets (Bun.listen: the Unix socket and an activated one) or node:net's (Windows named pipes,
// which Bun.listen does not serve). Bun.listen is the agent's default because each connection
// costs far less there: about a third of node:net with node:http in the agent's CPU per request
// from a new client process (BENCHMARKS.md has the figures).

/** How a connection reached us. */
export type Transport = "unix" | "pipe" | "tcp";

/** The addresses of an accepted TCP connection. */
export interface TcpAddresses {
  remoteAddress: string;
  remotePort: number;
  localAddress: string;
  localPort: number;
}

export interface Stream {
  readonly transport: Transport;
  /** The descriptor, for the peer's credentials; undefined where there is none to ask (pipes). */
  readonly fd: number | undefined;
  /** Both ends of a TCP connection (the peer is looked up by them); null on other transports. */
  readonly addresses: TcpAddresses | null;
  /**
   * Sends `bytes` in order after what was written before; `written` runs once they are out of
   * this process's hands (in the kernel, or the connection gone), so a caller can zero them.
   */
  write(bytes: Uint8Array, written?: () => void): void;
  /**
   * Closes once what was written is sent. With `linger`, sends FIN instead and keeps reading (the
   * server drops what comes) until the peer closes, or LINGER_MS: closing a Unix socket with the
   * peer's bytes unread can reset the peer before it reads the answer (for refusals sent before
   * the request was read).
   */
  end(options?: { linger?: boolean }): void;
  /** Closes now, dropping what is unsent. */
  destroy(): void;
  pause(): void;
  resume(): void;
  /** Bytes written and not yet taken by the kernel (a relay pauses its source above a mark). */
  readonly pendingBytes: number;
  /** Everything written so far has been taken by the kernel (after a write left bytes pending). */
  onDrain: () => void;
  /** Set by the server before any byte can arrive. */
  onData: (bytes: Uint8Array) => void;
  /** The peer will send nothing more (it may still read). */
  onEnd: () => void;
  /** Gone, for whatever reason; called once. */
  onClose: () => void;
}

const ignore = () => {};

/** How long a lingering connection waits for its peer to close before it is closed anyway. */
export const LINGER_MS = 1_000;

interface Pending {
  bytes: Uint8Array;
  offset: number;
  written?: () => void;
}

/** A Bun.listen socket. Bun's write sends what the kernel takes and returns the count: the rest waits here for 'drain'. */
class BunStream implements Stream {
  onDrain: () => void = ignore;
  onData: (bytes: Uint8Array) => void = ignore;
  onEnd: () => void = ignore;
  onClose: () => void = ignore;
  #pending: Pending[] = [];
  /** A write left bytes pending: onDrain is due once they are out. */
  #blocked = false;
  #ending: { linger: boolean } | null = null;
  #closed = false;
  #linger: ReturnType<typeof setTimeout> | undefined;

  readonly addresses: TcpAddresses | null;

  constructor(
    private readonly socket: Bun.Socket<BunStream>,
    readonly transport: "unix" | "tcp",
  ) {
    this.addresses =
      transport === "tcp"
        ? {
            remoteAddress: socket.remoteAddress,
            remotePort: socket.remotePort,
            localAddress: socket.localAddress,
            localPort: socket.localPort,
          }
        : null;
  }

  get fd(): number | undefined {
    const fd = (this.socket as unknown as { fd?: number }).fd;
    return typeof fd === "number" && fd >= 0 ? fd : undefined;
  }

  write(bytes: Uint8Array, written?: () => void): void {
    if (this.#closed || this.#ending) return written?.();
    this.#pending.push({ bytes, offset: 0, written });
    if (this.#pending.length === 1) this.flush();
  }

  get pendingBytes(): number {
    let n = 0;
    for (const item of this.#pending) n += item.bytes.length - item.offset;
    return n;
  }

  /** Writes what is pending until the kernel takes no more; 'drain' calls it again. */
  flush(): void {
    while (this.#pending.length > 0 && !this.#closed) {
      const item = this.#pending[0]!;
      const rest = item.offset === 0 ? item.bytes : item.bytes.subarray(item.offset);
      const n = this.socket.write(rest);
      if (n < rest.length) {
        this.#blocked = true;
        item.offset += Math.max(0, n);
        if (n < 0) this.destroy();
        return;
      }
      this.#pending.shift();
      item.written?.();
    }
    if (this.#ending && this.#pending.length === 0) this.#finish();
    if (this.#blocked && this.#pending.length === 0 && !this.#closed) {
      this.#blocked = false;
      this.onDrain();
    }
  }

  end(options: { linger?: boolean } = {}): void {
    if (this.#ending) return;
    this.#ending = { linger: options.linger ?? false };
    if (this.#pending.length === 0) this.#finish();
  }

  #finish(): void {
    if (this.#closed || this.#linger) return;
    // Bun's end() closes the socket whole (allowHalfOpen or not); shutdown(true) is the half-close.
    if (!this.#ending!.linger) {
      this.socket.end();
      return;
    }
    this.#linger = setTimeout(() => this.destroy(), LINGER_MS);
    if (this.transport === "tcp") {
      // On TCP, Bun closes the whole socket at shutdown(true) (seen with Bun 1.4 and
      // allowHalfOpen): the answer stays sent and the socket open until the peer's request has
      // been read (then closed with nothing unread, so without a reset) or the linger runs out.
      this.onData = () => this.socket.end();
      return;
    }
    this.socket.shutdown(true);
  }

  destroy(): void {
    if (this.#closed) return;
    this.socket.terminate();
    this.closed();
  }

  pause(): void {
    this.socket.pause();
  }

  resume(): void {
    this.socket.resume();
  }

  closed(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#linger);
    for (const item of this.#pending.splice(0)) item.written?.();
    this.onClose();
  }
}

/** The handlers for Bun.listen that turn each accepted socket into a Stream. */
export function bunStreamHandlers(onStream: (stream: Stream) => void, transport: "unix" | "tcp" = "unix"): Bun.SocketHandler<BunStream> {
  return {
    open(socket) {
      socket.data = new BunStream(socket, transport);
      onStream(socket.data);
    },
    data(socket, bytes) {
      socket.data.onData(bytes);
    },
    drain(socket) {
      socket.data.flush();
    },
    end(socket) {
      socket.data.onEnd();
    },
    close(socket) {
      socket.data?.closed();
    },
    error() {
      // 'close' follows.
    },
  };
}

/** The descriptor behind a node:net socket (Bun's node:net keeps it on the handle, as Node does). */
export function socketFd(socket: net.Socket): number | undefined {
  const fd = (socket as unknown as { _handle?: { fd?: number } })._handle?.fd;
  return typeof fd === "number" && fd >= 0 ? fd : undefined;
}

/** A node:net socket (named pipes); node:net buffers what the kernel does not take yet. */
export function nodeStream(socket: net.Socket): Stream {
  let closed = false;
  let linger: ReturnType<typeof setTimeout> | undefined;
  const stream: Stream = {
    transport: "pipe",
    addresses: null,
    get fd() {
      return socketFd(socket);
    },
    write(bytes, written) {
      if (closed || !socket.writable) return written?.();
      // A callback only when asked for: node:net schedules one per write that has one.
      if (written) socket.write(bytes, () => written());
      else socket.write(bytes);
    },
    end(options = {}) {
      if (linger || closed) return;
      socket.end();
      // allowHalfOpen (the pipe server's): end() only half-closes, so the close is ours to make.
      if (options.linger) linger = setTimeout(() => socket.destroy(), LINGER_MS);
      else socket.destroySoon();
    },
    destroy: () => socket.destroy(),
    pause: () => socket.pause(),
    resume: () => socket.resume(),
    get pendingBytes() {
      return socket.writableLength;
    },
    onDrain: ignore,
    onData: ignore,
    onEnd: ignore,
    onClose: ignore,
  };
  socket.on("data", (bytes: Buffer) => stream.onData(bytes));
  socket.on("end", () => stream.onEnd());
  socket.on("drain", () => stream.onDrain());
  socket.on("error", ignore);
  socket.on("close", () => {
    closed = true;
    clearTimeout(linger);
    stream.onClose();
  });
  return stream;
}
