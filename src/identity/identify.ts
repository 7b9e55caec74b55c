import { describe } from "../errors.ts";
import type { Accepted, Actor, PeerProcess } from "./actor.ts";
import { loopbackPeerOwnerFast, loopbackPeerSupported } from "./loopback-peer.ts";
import { socketHolders, procFds, type ProcFds } from "./socket-holders.ts";
import { readPeerIdentity } from "./peer.ts";
import { readProcessInfo, type ProcessInfo } from "./process-info.ts";

// The kernel's answer to "who is this", per transport and OS, in two steps: the cheap one (a
// getsockopt, a sock_diag lookup) before a connection is given a slot, the /proc reads after,
// so a flood that is refused costs the agent no /proc read.

/** Who the kernel says the peer is, or why it cannot say (the connection is then refused). */
export type PeerLookup = { ok: true; actor: Omit<Actor, "process"> } | { ok: false; reason: string; uid: number | null };

/**
 * The peer of an accepted connection. TCP is loopback only: the peer must come from the address
 * the listener is bound to (any user may bind another 127/8 address), and its socket is looked up
 * by the whole 4-tuple.
 */
export function lookUpPeer(
  accepted: Accepted,
  platform: NodeJS.Platform = process.platform,
  findPid: (inode: number, uid: number) => { pid: number; gid: number } | null = ownProcessHolding,
): PeerLookup {
  switch (accepted.transport) {
    case "pipe":
      // libuv does not hand out the pipe's HANDLE: the session token guards pipes instead.
      return { ok: true, actor: { transport: "pipe", uid: null, peer: null } };
    case "unix": {
      try {
        const peer = readPeerIdentity(accepted.fd);
        return { ok: true, actor: { transport: "unix", uid: peer?.uid ?? null, peer } };
      } catch (err) {
        return { ok: false, reason: `cannot read the peer's credentials: ${describe(err)}`, uid: null };
      }
    }
    case "tcp": {
      const a = accepted.addresses;
      if (!a) return { ok: false, reason: "the connection's addresses are unknown", uid: null };
      const owner = loopbackPeerSupported(platform)
        ? loopbackPeerOwnerFast({
            peerAddress: a.remoteAddress,
            peerPort: a.remotePort,
            serverAddress: a.localAddress,
            serverPort: a.localPort,
          })
        : null;
      const uid = owner?.uid ?? null;
      if (a.remoteAddress !== a.localAddress) {
        return {
          ok: false,
          reason: `connections from ${a.remoteAddress} are refused: only from ${a.localAddress}, the listener's own address`,
          uid,
        };
      }
      if (uid === null && loopbackPeerSupported(platform)) {
        return { ok: false, reason: "the kernel's socket table does not name the connection's owner", uid: null };
      }
      // The process, as ss -p finds it: the one whose descriptors hold the peer socket's inode.
      // Only among the agent's own user's processes (another uid is refused before a slot, and
      // its /proc/PID/fd is not ours to read), so allow rules that name a program apply over TCP
      // as on the socket; a socket held by several processes (inherited across fork) names none.
      const holder = accepted.process && owner && uid === process.getuid?.() ? findPid(owner.inode, owner.uid) : null;
      return {
        ok: true,
        actor: { transport: "tcp", uid, peer: holder && uid !== null ? { pid: holder.pid, uid, gid: holder.gid } : null },
      };
    }
  }
}

/** The peer process's executable and start time, where the OS shows them (Linux, macOS). */
export function lookUpProcess(
  actor: Omit<Actor, "process">,
  platform: NodeJS.Platform = process.platform,
  read: (pid: number) => ProcessInfo = readProcessInfo,
): PeerProcess | null {
  if (!actor.peer || (platform !== "linux" && platform !== "darwin")) return null;
  const info = read(actor.peer.pid);
  return { exe: info.exe, startTime: info.startTime };
}

/** Last process found holding a loopback peer's socket: a pool's next connection is likely its. */
let lastHolder: number | undefined;

/** The one process of `uid` holding the socket `inode`, and its gid; null for none or several. */
export function ownProcessHolding(inode: number, uid: number, proc: ProcFds = procFds): { pid: number; gid: number } | null {
  const holders = socketHolders(inode, uid, proc, { first: lastHolder === undefined ? [] : [lastHolder], except: process.pid });
  if (holders.length !== 1) return null;
  lastHolder = holders[0]!;
  return { pid: holders[0]!, gid: proc.gid?.(holders[0]!) ?? uid };
}
