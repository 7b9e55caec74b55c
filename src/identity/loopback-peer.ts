import { readFileSync } from "node:fs";
import { sockDiagUid } from "./sock-diag.ts";

// TCP on loopback has no SO_PEERCRED, but Linux says who owns each socket: sock_diag answers for
// one 4-tuple, and /proc/net/tcp and tcp6 list every TCP socket of this network namespace with its
// owner's uid, as identd (RFC 1413) reads them. The client's socket of a connection to us is the one whose local address is the
// peer's address and whose remote address is our listener. Other systems have no such table: the
// caller gets null and must not serve what only a uid check protects.

export interface LoopbackConnection {
  /** The peer's port (its socket's local port). */
  peerPort: number;
  /** Our listening port (the peer's remote port). */
  serverPort: number;
}

const TABLES = ["/proc/net/tcp", "/proc/net/tcp6"];
// The IPv4 loopback as /proc writes it (host byte order, little-endian), plain and v4-mapped in tcp6.
const LOOPBACK_V4 = "0100007F";
const LOOPBACK_V4_MAPPED = "0000000000000000FFFF00000100007F";
const LOOPBACK_V6 = "00000000000000000000000001000000";
const LOOPBACK_ADDRESSES = new Set([LOOPBACK_V4, LOOPBACK_V4_MAPPED, LOOPBACK_V6]);

/** Whether this system can name the uid behind a loopback connection. */
export function loopbackPeerSupported(platform: NodeJS.Platform = process.platform): boolean {
  return platform === "linux";
}

/** The uid behind a loopback connection: sock_diag's exact lookup, else the tables (slow: see sock-diag.ts). */
export function loopbackPeerUidFast(conn: LoopbackConnection): number | null {
  return sockDiagUid(conn) ?? loopbackPeerUid(conn);
}

/**
 * The uid owning the peer's end of a loopback connection, or null when no such socket is listed
 * (it closed, or it is not on loopback). Reads the tables on each call: a port is reused by the
 * next connection, maybe of another user, so an answer cannot be kept.
 */
export function loopbackPeerUid(conn: LoopbackConnection, read: (path: string) => string = readTable): number | null {
  for (const table of TABLES) {
    let text: string;
    try {
      text = read(table);
    } catch {
      continue; // no IPv6 in this kernel
    }
    const uid = findUid(text, conn);
    if (uid !== null) return uid;
  }
  return null;
}

/** One table's rows: "sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode …". */
export function findUid(table: string, conn: LoopbackConnection): number | null {
  const lines = table.split("\n");
  for (let i = 1; i < lines.length; i++) {
    const fields = lines[i]!.trim().split(/\s+/);
    if (fields.length < 10) continue;
    const local = splitAddress(fields[1]!);
    const remote = splitAddress(fields[2]!);
    if (!local || !remote) continue;
    if (local.port !== conn.peerPort || remote.port !== conn.serverPort) continue;
    if (!LOOPBACK_ADDRESSES.has(local.address) || !LOOPBACK_ADDRESSES.has(remote.address)) continue;
    // State 01 is ESTABLISHED: a socket in TIME_WAIT keeps the tuple but belongs to nobody (uid 0).
    if (fields[3] !== "01") continue;
    const uid = Number(fields[7]);
    return Number.isInteger(uid) && uid >= 0 ? uid : null;
  }
  return null;
}

function splitAddress(field: string): { address: string; port: number } | null {
  const colon = field.indexOf(":");
  if (colon < 0) return null;
  return { address: field.slice(0, colon).toUpperCase(), port: parseInt(field.slice(colon + 1), 16) };
}

function readTable(path: string): string {
  return readFileSync(path, "latin1");
}
