import { ptr } from "bun:ffi";
import { linuxLibc } from "../native/libc.ts";
import { ipv4Number, type LoopbackConnection } from "./loopback-address.ts";

// The owner of one TCP socket, asked of the kernel by its exact 4-tuple through netlink sock_diag
// (what ss(8) uses): a hash lookup, microseconds. Reading /proc/net/tcp walks every bucket of the
// kernel's socket hash on each read (3 ms and more even when it lists three sockets), which would
// cap the endpoint near 300 requests/s. Null when the kernel cannot answer (no inet_diag): the
// caller then reads the tables.

const AF_NETLINK = 16;
const AF_INET = 2;
const SOCK_DGRAM = 2;
const SOCK_CLOEXEC = 0o2000000;
const NETLINK_SOCK_DIAG = 4;
const SOCK_DIAG_BY_FAMILY = 20;
const NLM_F_REQUEST = 1;
const NLMSG_ERROR = 2;
const IPPROTO_TCP = 6;
const TCP_ESTABLISHED = 1;
const MSG_DONTWAIT = 0x40;
const REQUEST_LENGTH = 16 + 56; // nlmsghdr + inet_diag_req_v2
// nlmsghdr (16) + inet_diag_msg: family, state, timer, retrans (4), sockid (48), expires, rqueue, wqueue (12), then uid.
const UID_OFFSET = 16 + 4 + 48 + 12;
const INODE_OFFSET = UID_OFFSET + 4;
const STATE_OFFSET = 16 + 1;

let seq = 0;

/** The owner's uid and the socket's inode (what /proc/PID/fd/N links to as socket:[INODE]). */
export interface SocketOwner {
  uid: number;
  inode: number;
}

export function sockDiagUid(conn: LoopbackConnection): number | null {
  return sockDiagOwner(conn)?.uid ?? null;
}

export function sockDiagOwner(conn: LoopbackConnection): SocketOwner | null {
  const peerAddress = ipv4Number(conn.peerAddress);
  const serverAddress = ipv4Number(conn.serverAddress);
  if (peerAddress === null || serverAddress === null) return null;
  let libc: ReturnType<typeof linuxLibc>;
  try {
    libc = linuxLibc();
  } catch {
    return null;
  }
  const fd = libc.socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
  if (fd < 0) return null;
  try {
    const request = new DataView(new ArrayBuffer(REQUEST_LENGTH));
    request.setUint32(0, REQUEST_LENGTH, true);
    request.setUint16(4, SOCK_DIAG_BY_FAMILY, true);
    request.setUint16(6, NLM_F_REQUEST, true);
    request.setUint32(8, ++seq, true);
    request.setUint8(16, AF_INET);
    request.setUint8(17, IPPROTO_TCP);
    request.setUint32(20, 1 << TCP_ESTABLISHED, true);
    // The peer's socket by its whole tuple: local peerAddress:peerPort, remote serverAddress:serverPort
    // (network byte order). The kernel matches every field exactly.
    request.setUint16(24, conn.peerPort, false);
    request.setUint16(26, conn.serverPort, false);
    request.setUint32(28, peerAddress, false);
    request.setUint32(44, serverAddress, false);
    // No cookie: INET_DIAG_NOCOOKIE.
    request.setUint32(64, 0xffffffff, true);
    request.setUint32(68, 0xffffffff, true);
    const bytes = new Uint8Array(request.buffer);
    if (Number(libc.send(fd, ptr(bytes), bytes.byteLength, 0)) !== bytes.byteLength) return null;
    const reply = new Uint8Array(1024);
    const got = Number(libc.recv(fd, ptr(reply), reply.byteLength, MSG_DONTWAIT));
    if (got < INODE_OFFSET + 4) return null;
    const view = new DataView(reply.buffer, 0, got);
    if (view.getUint16(4, true) === NLMSG_ERROR || view.getUint16(4, true) !== SOCK_DIAG_BY_FAMILY) return null;
    if (view.getUint8(STATE_OFFSET) !== TCP_ESTABLISHED) return null;
    return { uid: view.getUint32(UID_OFFSET, true), inode: view.getUint32(INODE_OFFSET, true) };
  } finally {
    libc.close(fd);
  }
}
