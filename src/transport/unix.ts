import { lstatSync, mkdirSync, unlinkSync } from "node:fs";
import net from "node:net";
import { dirname } from "node:path";
import { CredagentError } from "../errors.ts";
import { assertSocketPathLength } from "../paths.ts";
import { InstanceLock } from "./lock.ts";
import { listening, whileLocked } from "./listening.ts";
import { bunStreamHandlers, type Stream } from "./stream.ts";

export interface UnixListener {
  path: string;
  /** Stops accepting; connections already accepted go on. */
  stopAccepting(): void;
  /** Stops accepting, removes the socket and frees the lock. */
  close(): void;
}

/**
 * The socket's directory: created 0700 if missing (never chmod-ed after the fact), and refused
 * unless it is a real directory, owned by us, with no group or other bits, as git-credential-cache
 * refuses. A socket in a directory others can write could be swapped under our clients.
 */
export function ensurePrivateDir(dir: string, uid: number): void {
  try {
    mkdirSync(dir, { mode: 0o700 });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT") {
      throw new CredagentError(
        "unsafe_path",
        `cannot create ${dir}: its parent directory does not exist; create it or choose another socket path with -a`,
        { cause: err },
      );
    }
    if (code !== "EEXIST") {
      throw new CredagentError("unsafe_path", `cannot create ${dir}: ${code}`, { cause: err });
    }
  }
  const st = lstatSync(dir);
  if (st.isSymbolicLink()) {
    throw new CredagentError("unsafe_path", `${dir} is a symbolic link; the socket directory must be a real directory: remove the link`);
  }
  if (!st.isDirectory()) {
    throw new CredagentError("unsafe_path", `${dir} is not a directory; remove it or choose another socket path with -a`);
  }
  if (st.uid !== uid) {
    throw new CredagentError(
      "unsafe_path",
      `${dir} is owned by uid ${st.uid}, not by you (uid ${uid}); use a directory of your own (-a, XDG_RUNTIME_DIR or TMPDIR)`,
    );
  }
  if ((st.mode & 0o077) !== 0) {
    const mode = (st.mode & 0o777).toString(8);
    throw new CredagentError("unsafe_path", `${dir} has mode ${mode}, open to other users; run 'chmod 700 ${dir}' and start again`);
  }
}

/** Refuses a socket path that is a link or some other kind of file. */
function checkExistingSocket(path: string): "absent" | "socket" {
  let st;
  try {
    st = lstatSync(path);
  } catch {
    return "absent";
  }
  if (st.isSymbolicLink())
    throw new CredagentError("unsafe_path", `${path} is a symbolic link; remove it: the agent will not listen through a link`);
  if (!st.isSocket())
    throw new CredagentError("unsafe_path", `${path} exists and is not a socket; remove it or choose another path with -a`);
  return "socket";
}

/** Listens with node:net: the database proxy relays these sockets as streams (dbproxy/proxy.ts). */
export function listenUnix(
  path: string,
  uid: number,
  onConnection: (socket: net.Socket) => void,
  beforeListen: () => void = () => {},
): Promise<UnixListener> {
  return listenAt(path, uid, beforeListen, async () => {
    // No maxConnections: over it, a client is accepted and reset, and cannot tell a full server
    // from a dead one.
    const server = net.createServer({ pauseOnConnect: false }, onConnection);
    await listening(server, path);
    return () => server.close();
  });
}

/** Listens with Bun.listen, each connection a Stream (the agent's API: transport/stream.ts says why). */
export function listenUnixStreams(
  path: string,
  uid: number,
  onStream: (stream: Stream) => void,
  beforeListen: () => void = () => {},
): Promise<UnixListener> {
  return listenAt(path, uid, beforeListen, async () => {
    const listener = Bun.listen({ unix: path, socket: bunStreamHandlers(onStream), allowHalfOpen: true });
    return () => listener.stop(false);
  });
}

/**
 * The socket's safe directory, the single-instance lock beside the socket, a stale socket file
 * replaced, and `listen` run under umask 0177 so that the socket is born 0600.
 */
async function listenAt(path: string, uid: number, beforeListen: () => void, listen: () => Promise<() => void>): Promise<UnixListener> {
  assertSocketPathLength(path, process.platform);
  ensurePrivateDir(dirname(path), uid);
  const lock = InstanceLock.tryAcquire(`${path}.lock`);
  if (!lock) {
    throw new CredagentError("agent_running", `another agent is already serving ${path}; 'credagent stop' stops it`);
  }
  whileLocked(lock, beforeListen);
  try {
    // Holding the lock, a socket file left here belongs to an agent that died: replace it.
    if (checkExistingSocket(path) === "socket") unlinkSync(path);
    const previous = process.umask(0o177);
    let stop: () => void;
    try {
      stop = await listen();
    } finally {
      process.umask(previous);
    }
    let stopped = false;
    let closed = false;
    const stopAccepting = () => {
      if (stopped) return;
      stopped = true;
      stop();
    };
    return {
      path,
      stopAccepting,
      close() {
        if (closed) return;
        closed = true;
        stopAccepting();
        try {
          unlinkSync(path);
        } catch {
          // already gone: nothing to clean
        }
        lock.releaseAndRemove();
      },
    };
  } catch (err) {
    lock.release();
    if (err instanceof CredagentError) throw err;
    throw new CredagentError("unsafe_path", `cannot listen on ${path}: ${(err as NodeJS.ErrnoException).code ?? err}`, { cause: err });
  }
}
