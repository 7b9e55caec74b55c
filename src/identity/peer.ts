import { ptr } from "bun:ffi";
import { CredagentError } from "../errors.ts";
import { libc } from "../native/libc.ts";
import type { PeerIdentity } from "./actor.ts";
import { readDarwinPeer } from "./darwin.ts";

export type { PeerIdentity };

const SOL_SOCKET = 1;
const SO_PEERCRED = 17;

/**
 * The credentials of the peer on the connected socket `fd`: SO_PEERCRED on Linux,
 * LOCAL_PEERCRED/LOCAL_PEERPID on macOS. Null on Windows named pipes: libuv does not hand out the
 * pipe's HANDLE, so GetNamedPipeClientProcessId cannot be called; the session token guards pipes instead.
 */
export function readPeerIdentity(fd: number | undefined): PeerIdentity | null {
  if (process.platform !== "linux" && process.platform !== "darwin") return null;
  if (fd === undefined) throw new CredagentError("internal", "the accepted socket has no file descriptor");
  if (process.platform === "darwin") return readDarwinPeer(fd);
  const cred = new Int32Array(3);
  const len = new Uint32Array([12]);
  if (libc().getsockopt(fd, SOL_SOCKET, SO_PEERCRED, ptr(cred), ptr(len)) !== 0) {
    throw new CredagentError("internal", "getsockopt(SO_PEERCRED) failed on an accepted socket");
  }
  return { pid: cred[0]!, uid: cred[1]!, gid: cred[2]! };
}

/**
 * ssh-agent's rule: only our own uid, and root (who can read our memory anyway) unless denied.
 * Holds even if someone loosened the socket's permissions by hand.
 */
export function peerAllowed(peer: PeerIdentity | null, agentUid: number, denyRoot: boolean): boolean {
  if (peer === null) return true;
  if (peer.uid === agentUid) return true;
  return peer.uid === 0 && !denyRoot;
}
