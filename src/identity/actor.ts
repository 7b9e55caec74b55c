import type { TcpAddresses, Transport } from "../transport/stream.ts";

// Who is on the other end of one accepted connection, identified once by the admission step
// (src/admission/) and handed to the front door that serves it (tailscale's ipnauth Actor): no
// front door reads the peer itself.

/** Facts about the peer process read once per connection (Linux, macOS); what the pid-reuse check needs. */
export interface PeerProcess {
  /** The executable as the kernel names it; null when unreadable. */
  exe: string | null;
  /** When the process started: with the pid, what identifies it. */
  startTime: number | null;
}

export type { TcpAddresses, Transport };

/** Who is at the other end of a connection, as the kernel says. */
export interface PeerIdentity {
  pid: number;
  uid: number;
  gid: number;
}

export interface Actor {
  transport: Transport;
  /**
   * The peer's uid, where the kernel says it: SO_PEERCRED on a Unix socket, the socket table for
   * loopback TCP (Linux); null on named pipes and where loopback owners are unknown.
   */
  uid: number | null;
  /** The peer's process credentials (pid, uid, gid); null where no pid is known (pipes, TCP). */
  peer: PeerIdentity | null;
  process: PeerProcess | null;
}

/** An accepted connection as the admission step reads it: what the transport can tell. */
export type Accepted =
  | { transport: "unix"; fd: number | undefined }
  | { transport: "pipe" }
  /** `process`: find the process too (by its socket's inode), for a front door whose rules name programs. */
  | { transport: "tcp"; addresses: TcpAddresses | null; process?: boolean };
