// A loopback TCP connection's addresses, as the socket-table lookups (sock-diag.ts, loopback-peer.ts) take them.

/**
 * One TCP connection on loopback by its whole 4-tuple: any 127/8 address can be bound by any user,
 * so a port alone (or a port on an assumed address) names another user's socket as readily as the
 * peer's. Addresses are dotted IPv4 (the listeners bind 127.0.0.1).
 */
export interface LoopbackConnection {
  /** The peer's address and port (its socket's local end). */
  peerAddress: string;
  peerPort: number;
  /** Our listener's address and port (the peer's remote end). */
  serverAddress: string;
  serverPort: number;
}

/** A dotted IPv4 address as a 32-bit number, or null when it is not one. */
export function ipv4Number(address: string): number | null {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(address);
  if (!m) return null;
  const parts = m.slice(1).map(Number);
  if (parts.some((p) => p > 255)) return null;
  return ((parts[0]! << 24) | (parts[1]! << 16) | (parts[2]! << 8) | parts[3]!) >>> 0;
}
