import { readFileSync } from "node:fs";
import { capabilitiesOf } from "../platform/os.ts";
import { ipv4Number, type LoopbackConnection } from "./loopback-address.ts";
import { sockDiagOwner, type SocketOwner } from "./sock-diag.ts";

export type { LoopbackConnection };

// TCP on loopback has no SO_PEERCRED, but Linux says who owns each socket: sock_diag answers for
// one 4-tuple, and /proc/net/tcp and tcp6 list every TCP socket of this network namespace with its
// owner's uid, as identd (RFC 1413) reads them. The client's socket of a connection to us is the one whose local address is the
// peer's address and whose remote address is our listener. Other systems have no such table: the
// caller gets null and must not serve what only a uid check protects.

/** How /proc/net/tcp writes an IPv4 address (host byte order, little-endian here), and its v4-mapped form in tcp6. */
function tableForms(address: string): string[] {
  const n = ipv4Number(address);
  if (n === null) return [];
  const le = (((n & 0xff) << 24) | (((n >>> 8) & 0xff) << 16) | (((n >>> 16) & 0xff) << 8) | (n >>> 24)) >>> 0;
  const hex = le.toString(16).toUpperCase().padStart(8, "0");
  return [hex, `0000000000000000FFFF0000${hex}`];
}

const TABLES = ["/proc/net/tcp", "/proc/net/tcp6"];

/** Whether this system can name the uid behind a loopback connection. */
export function loopbackPeerSupported(platform: NodeJS.Platform = process.platform): boolean {
  return capabilitiesOf(platform).loopbackPeers;
}

/** The uid behind a loopback connection: sock_diag's exact lookup, else the tables (slow: see sock-diag.ts). */
export function loopbackPeerUidFast(conn: LoopbackConnection): number | null {
  return loopbackPeerOwnerFast(conn)?.uid ?? null;
}

/** The owner's uid and the peer socket's inode, by the same two ways. */
export function loopbackPeerOwnerFast(conn: LoopbackConnection): SocketOwner | null {
  return sockDiagOwner(conn) ?? loopbackPeerOwner(conn);
}

/**
 * The uid owning the peer's end of a loopback connection, or null when no such socket is listed
 * (it closed, or it is not on loopback). Reads the tables on each call: a port is reused by the
 * next connection, maybe of another user, so an answer cannot be kept.
 */
export function loopbackPeerUid(conn: LoopbackConnection, read: (path: string) => string = readTable): number | null {
  return loopbackPeerOwner(conn, read)?.uid ?? null;
}

export function loopbackPeerOwner(conn: LoopbackConnection, read: (path: string) => string = readTable): SocketOwner | null {
  for (const table of TABLES) {
    let text: string;
    try {
      text = read(table);
    } catch {
      continue; // no IPv6 in this kernel
    }
    const owner = findOwner(text, conn);
    if (owner !== null) return owner;
  }
  return null;
}

export function findUid(table: string, conn: LoopbackConnection): number | null {
  return findOwner(table, conn)?.uid ?? null;
}

/** One table's rows: "sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode …". */
export function findOwner(table: string, conn: LoopbackConnection): SocketOwner | null {
  const peerForms = tableForms(conn.peerAddress);
  const serverForms = tableForms(conn.serverAddress);
  const lines = table.split("\n");
  for (let i = 1; i < lines.length; i++) {
    const fields = lines[i]!.trim().split(/\s+/);
    if (fields.length < 10) continue;
    const local = splitAddress(fields[1]!);
    const remote = splitAddress(fields[2]!);
    if (!local || !remote) continue;
    if (local.port !== conn.peerPort || remote.port !== conn.serverPort) continue;
    if (!peerForms.includes(local.address) || !serverForms.includes(remote.address)) continue;
    // State 01 is ESTABLISHED: a socket in TIME_WAIT keeps the tuple but belongs to nobody (uid 0).
    if (fields[3] !== "01") continue;
    const uid = Number(fields[7]);
    const inode = Number(fields[9]);
    return Number.isInteger(uid) && uid >= 0 ? { uid, inode: Number.isInteger(inode) ? inode : 0 } : null;
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
