import { chmodSync, lstatSync } from "node:fs";
import { ptr, read } from "bun:ffi";
import { CredagentError } from "../errors.ts";
import { darwinLibc, libc } from "../native/libc.ts";
import { LAUNCHD_SOCKET_ENV } from "../platform/launchd.ts";
import { bunStreamHandlers, type Stream } from "./stream.ts";
import type { UnixListener } from "./unix.ts";

// Socket activation (sd_listen_fds(3)): systemd (a user unit's .socket, or systemd-socket-activate)
// binds the socket and starts the agent at the first connection, passing the listening socket as
// fd 3 with LISTEN_FDS and LISTEN_PID naming this process. systemd owns that socket: the agent
// neither unlinks it nor takes the single-instance lock (systemd starts one agent per socket), and
// everything else (peer checks, session token, the API) is unchanged.
//
// The inherited fd is served with Bun.listen({ fd }), as the agent's own socket is (transport/
// stream.ts says why): http.Server.listen({ fd }) in Bun silently binds a random TCP port on all
// interfaces instead (oven-sh/bun#22559), and the agent's HTTP server has no listener of its own.

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
    throw new CredagentError(
      "unsafe_path",
      `systemd passed ${count} sockets; credagent serves one: give its .socket unit a single ListenStream=`,
    );
  }
  const fd = SD_LISTEN_FDS_START;
  return { fd, path: unixSocketPath(fd) };
}

/**
 * The socket launchd made for the LaunchAgent (platform/launchd.ts), or null when the agent was not
 * started by it: the plist sets CREDAGENT_LAUNCHD_SOCKET to the name of its Sockets entry. The
 * variable is removed either way. `activate` and `pathOf` are the native calls (tests fake them).
 */
export function takeLaunchdActivation(
  env: Record<string, string | undefined> = process.env,
  activate: (name: string) => number[] = launchActivateSocket,
  pathOf: (fd: number) => string = unixSocketPath,
): Activation | null {
  const name = env[LAUNCHD_SOCKET_ENV];
  delete env[LAUNCHD_SOCKET_ENV];
  if (!name) return null;
  const fds = activate(name);
  if (fds.length !== 1) {
    throw new CredagentError(
      "unsafe_path",
      `launchd passed ${fds.length} sockets for '${name}'; credagent serves one: reinstall with 'credagent service install'`,
    );
  }
  return { fd: fds[0]!, path: pathOf(fds[0]!) };
}

/** launch_activate_socket(3) through bun:ffi: the descriptors of one Sockets entry. */
function launchActivateSocket(name: string): number[] {
  const c = darwinLibc();
  const fdsOut = new BigUint64Array(1);
  const count = new BigUint64Array(1);
  const err = c.launch_activate_socket(ptr(Buffer.from(`${name}\0`)), ptr(fdsOut), ptr(count));
  if (err !== 0) {
    throw new CredagentError(
      "unsafe_path",
      `launchd did not hand over the socket '${name}' (errno ${err}): is the agent started by its LaunchAgent? 'credagent service status' says`,
    );
  }
  const array = Number(fdsOut[0]);
  const fds = Array.from({ length: Number(count[0]) }, (_, i) => read.i32(array as never, i * 4));
  c.free(array as never);
  return fds;
}

const AF_UNIX = 1;

/**
 * The path in a sockaddr_un as getsockname filled it in. Linux: a 2-byte family, then the path;
 * the BSDs and macOS: a length byte, a family byte, then the path.
 */
export function parseSockaddrUn(
  addr: Uint8Array,
  length: number,
  platform: NodeJS.Platform = process.platform,
): { family: number; path: string } {
  const bsd = platform === "darwin" || platform === "freebsd";
  const family = bsd ? addr[1]! : addr[0]! | (addr[1]! << 8);
  const bytes = addr.subarray(2, Math.min(length, addr.length));
  const end = bytes.indexOf(0);
  return { family, path: new TextDecoder().decode(end < 0 ? bytes : bytes.subarray(0, end)) };
}

/** The path a Unix socket is bound to; refuses anything else (a TCP socket, an abstract name). */
export function unixSocketPath(fd: number): string {
  const addr = new Uint8Array(110);
  const len = new Uint32Array([addr.byteLength]);
  if (libc().getsockname(fd, ptr(addr), ptr(len)) !== 0) {
    throw new CredagentError("unsafe_path", `fd ${fd} passed to the agent is not a socket: check the .socket unit or the LaunchAgent`);
  }
  const { family, path } = parseSockaddrUn(addr, len[0]!);
  if (family !== AF_UNIX) {
    throw new CredagentError(
      "unsafe_path",
      `the agent was passed a socket of family ${family}, not a Unix socket: credagent listens only on a Unix socket (ListenStream=%t/cred.sock)`,
    );
  }
  if (!path.startsWith("/"))
    throw new CredagentError("unsafe_path", "the agent was passed an abstract or unnamed socket: use a path (ListenStream=%t/cred.sock)");
  return path;
}

/**
 * Serves the inherited socket after checking what systemd made of it: a socket file owned by this
 * user, with no group or other bits (SocketMode=0600), in a directory of this user's that others
 * cannot enter.
 */
export async function listenActivated(activation: Activation, uid: number, onStream: (stream: Stream) => void): Promise<UnixListener> {
  const { path, fd } = activation;
  const dir = lstatSync(path.slice(0, path.lastIndexOf("/")) || "/");
  if (!dir.isDirectory() || dir.uid !== uid || (dir.mode & 0o077) !== 0) {
    throw new CredagentError(
      "unsafe_path",
      `the directory of ${path} is open to other users or not yours: set DirectoryMode=0700 and use %t (the user's runtime directory)`,
    );
  }
  const st = lstatSync(path, { throwIfNoEntry: false });
  if (!st?.isSocket())
    throw new CredagentError("unsafe_path", `the socket systemd passed is bound to ${path}, which is no longer a socket file`);
  if (st.uid !== uid)
    throw new CredagentError("unsafe_path", `the socket ${path} from systemd belongs to uid ${st.uid}, not to you (uid ${uid})`);
  // SocketMode=0600 in the unit makes it so; systemd-socket-activate cannot be told. In a 0700
  // directory of this user's, nobody else can swap the file between the check and the chmod.
  if ((st.mode & 0o077) !== 0) chmodSync(path, 0o600);
  // Bun.listen takes a listening descriptor (`fd`) as well as a path, though its types say only the latter.
  const listener = Bun.listen({
    fd,
    socket: bunStreamHandlers(onStream),
    allowHalfOpen: true,
  } as unknown as Bun.UnixSocketOptions<unknown>);
  let closed = false;
  // The socket is systemd's (or launchd's): closing our copy stops us accepting; the file stays for the next start.
  const close = () => {
    if (closed) return;
    closed = true;
    listener.stop(false);
  };
  return { path, stopAccepting: close, close };
}
