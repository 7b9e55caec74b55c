import { describe } from "../errors.ts";
import type { Accepted, Actor, PeerProcess } from "./actor.ts";
import { loopbackPeerSupported, loopbackPeerUidFast } from "./loopback-peer.ts";
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
export function lookUpPeer(accepted: Accepted, platform: NodeJS.Platform = process.platform): PeerLookup {
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
      const uid = loopbackPeerSupported(platform)
        ? loopbackPeerUidFast({
            peerAddress: a.remoteAddress,
            peerPort: a.remotePort,
            serverAddress: a.localAddress,
            serverPort: a.localPort,
          })
        : null;
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
      return { ok: true, actor: { transport: "tcp", uid, peer: null } };
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
