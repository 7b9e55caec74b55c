import { chmodSync, lstatSync } from "node:fs";
import net from "node:net";
import { ptr } from "bun:ffi";
import { CredagentError } from "../errors.ts";
import { libc } from "../native/libc.ts";
import type { UnixListener } from "./unix.ts";

// Socket activation (sd_listen_fds(3)): systemd (a user unit's .socket, or systemd-socket-activate)
// binds the socket and starts the agent at the first connection, passing the listening socket as
// fd 3 with LISTEN_FDS and LISTEN_PID naming this process. systemd owns that socket: the agent
// neither unlinks it nor takes the single-instance lock (systemd starts one agent per socket), and
// everything else (peer checks, session token, the API) is unchanged.
//
// The inherited fd is served with net.Server.listen({ fd }): http.Server.listen({ fd }) in Bun
// silently binds a random TCP port on all interfaces instead (oven-sh/bun#22559), and the agent's
// HTTP server is never given a listening socket of its own anyway (see agent/server.ts).

const SD_LISTEN_FDS_START = 3;

export interface Activation {
  fd: number;
  /** The socket's path, read from the socket itself (getsockname). */
  path: string;
}

/**
 * The socket passed by systemd, or null when this process was not socket-activated. The LISTEN_*
 * variables are removed either way, so that no command the agent runs sees them.
 */
export function takeActivation(env: Record<string, string | undefined> = process.env, pid = process.pid): Activation | null {
  const listenPid = env.LISTEN_PID;
  const listenFds = env.LISTEN_FDS;
  delete env.LISTEN_PID;
  delete env.LISTEN_FDS;
  delete env.LISTEN_FDNAMES;
  if (listenPid === undefined || listenFds === undefined) return null;
  // Meant for another process (a parent that was activated and did not clear them): not ours.
  if (Number(listenPid) !== pid) return null;
  const count = Number(listenFds);
  if (!Number.isInteger(count) || count < 1) return null;
  if (count > 1) {
    throw new CredagentError("unsafe_path", `systemd passed ${count} sockets; credagent serves one: give its .socket unit a single ListenStream=`);
  }
  const fd = SD_LISTEN_FDS_START;
  return { fd, path: unixSocketPath(fd) };
}

const AF_UNIX = 1;

/** The path a Unix socket is bound to; refuses anything else (a TCP socket, an abstract name). */
export function unixSocketPath(fd: number): string {
  const addr = new Uint8Array(110);
  const len = new Uint32Array([addr.byteLength]);
  if (libc().getsockname(fd, ptr(addr), ptr(len)) !== 0) {
    throw new CredagentError("unsafe_path", `fd ${fd} from systemd is not a socket: check the .socket unit`);
  }
  const family = addr[0]! | (addr[1]! << 8);
  if (family !== AF_UNIX) {
    throw new CredagentError("unsafe_path", `systemd passed a socket of family ${family}, not a Unix socket: credagent listens only on a Unix socket (ListenStream=%t/cred.sock)`);
  }
  const end = addr.indexOf(0, 2);
  const path = new TextDecoder().decode(addr.subarray(2, end < 0 ? Math.min(len[0]!, addr.length) : end));
  if (!path.startsWith("/")) throw new CredagentError("unsafe_path", "systemd passed an abstract or unnamed socket: use a path (ListenStream=%t/cred.sock)");
  return path;
}

/**
 * Serves the inherited socket after checking what systemd made of it: a socket file owned by this
 * user, with no group or other bits (SocketMode=0600), in a directory of this user's that others
 * cannot enter.
 */
export async function listenActivated(activation: Activation, uid: number, onConnection: (socket: net.Socket) => void): Promise<UnixListener> {
  const { path, fd } = activation;
  const dir = lstatSync(path.slice(0, path.lastIndexOf("/")) || "/");
  if (!dir.isDirectory() || dir.uid !== uid || (dir.mode & 0o077) !== 0) {
    throw new CredagentError("unsafe_path", `the directory of ${path} is open to other users or not yours: set DirectoryMode=0700 and use %t (the user's runtime directory)`);
  }
  const st = lstatSync(path, { throwIfNoEntry: false });
  if (!st?.isSocket()) throw new CredagentError("unsafe_path", `the socket systemd passed is bound to ${path}, which is no longer a socket file`);
  if (st.uid !== uid) throw new CredagentError("unsafe_path", `the socket ${path} from systemd belongs to uid ${st.uid}, not to you (uid ${uid})`);
  // SocketMode=0600 in the unit makes it so; systemd-socket-activate cannot be told. In a 0700
  // directory of this user's, nobody else can swap the file between the check and the chmod.
  if ((st.mode & 0o077) !== 0) chmodSync(path, 0o600);
  const server = net.createServer({ pauseOnConnect: false }, onConnection);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen({ fd }, () => {
      server.off("error", reject);
      resolve();
    });
  });
  let closed = false;
  return {
    server,
    path,
    close() {
      if (closed) return;
      closed = true;
      // The socket is systemd's: closing our copy stops us accepting; the file stays for the next start.
      server.close();
    },
  };
}
