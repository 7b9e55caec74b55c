import { ptr } from "bun:ffi";
import { CredagentError } from "../errors.ts";
import { libc } from "../native/libc.ts";
import { libproc } from "../native/libproc.ts";
import type { PeerIdentity } from "./actor.ts";

// macOS: the peer of a Unix socket from getsockopt(SOL_LOCAL, LOCAL_PEERCRED / LOCAL_PEERPID),
// its executable from proc_pidpath and its start time from proc_pidinfo(PROC_PIDTBSDINFO).
// The buffer layouts are parsed by pure functions, unit-tested on every platform; the calls
// themselves run only on macOS (not on this project's Linux CI).

const SOL_LOCAL = 0;
const LOCAL_PEERCRED = 0x001;
const LOCAL_PEERPID = 0x002;
const XUCRED_VERSION = 0;
const XUCRED_SIZE = 76; // u_int cr_version; uid_t cr_uid; short cr_ngroups; gid_t cr_groups[16]
const PROC_PIDTBSDINFO = 3;
const PROC_BSDINFO_SIZE = 136;
const PROC_PIDPATHINFO_MAXSIZE = 4096;

/** struct xucred: uid and first group. */
export function parseXucred(buf: Uint8Array): { uid: number; gid: number } {
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  if (buf.byteLength < 16 || view.getUint32(0, true) !== XUCRED_VERSION) {
    throw new CredagentError("internal", "unexpected xucred layout from LOCAL_PEERCRED");
  }
  return { uid: view.getUint32(4, true), gid: view.getUint32(12, true) };
}

/** struct proc_bsdinfo: pbi_start_tvsec/tvusec at offsets 120/128, as one number (µs since the epoch). */
export function parseBsdInfoStartTime(buf: Uint8Array): number {
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  if (buf.byteLength < PROC_BSDINFO_SIZE) throw new CredagentError("internal", "short proc_bsdinfo");
  return Number(view.getBigUint64(120, true)) * 1_000_000 + Number(view.getBigUint64(128, true));
}

export function readDarwinPeer(fd: number): PeerIdentity {
  const cred = new Uint8Array(XUCRED_SIZE);
  const credLen = new Uint32Array([XUCRED_SIZE]);
  const pid = new Int32Array(1);
  const pidLen = new Uint32Array([4]);
  if (libc().getsockopt(fd, SOL_LOCAL, LOCAL_PEERCRED, ptr(cred), ptr(credLen)) !== 0) {
    throw new CredagentError("internal", "getsockopt(LOCAL_PEERCRED) failed on an accepted socket");
  }
  if (libc().getsockopt(fd, SOL_LOCAL, LOCAL_PEERPID, ptr(pid), ptr(pidLen)) !== 0) {
    throw new CredagentError("internal", "getsockopt(LOCAL_PEERPID) failed on an accepted socket");
  }
  return { pid: pid[0]!, ...parseXucred(cred) };
}

export function darwinExecutable(pid: number): string | null {
  const buf = new Uint8Array(PROC_PIDPATHINFO_MAXSIZE);
  const n = libproc().proc_pidpath(pid, ptr(buf), buf.byteLength);
  return n > 0 ? new TextDecoder().decode(buf.subarray(0, n)) : null;
}

export function darwinStartTime(pid: number): number | null {
  const buf = new Uint8Array(PROC_BSDINFO_SIZE);
  const n = libproc().proc_pidinfo(pid, PROC_PIDTBSDINFO, 0, ptr(buf), buf.byteLength);
  return n === PROC_BSDINFO_SIZE ? parseBsdInfoStartTime(buf) : null;
}
