import { lstatSync, mkdirSync, unlinkSync } from "node:fs";
import net from "node:net";
import { dirname } from "node:path";
import { CredagentError } from "../errors.ts";
import { assertSocketPathLength } from "../paths.ts";
import { InstanceLock } from "./lock.ts";
import { listening, whileLocked } from "./listening.ts";

export interface UnixListener {
  server: net.Server;
  path: string;
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
      throw new CredagentError("unsafe_path", `cannot create ${dir}: its parent directory does not exist; create it or choose another socket path with -a`, { cause: err });
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
    throw new CredagentError("unsafe_path", `${dir} is owned by uid ${st.uid}, not by you (uid ${uid}); use a directory of your own (-a, XDG_RUNTIME_DIR or TMPDIR)`);
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
  if (st.isSymbolicLink()) throw new CredagentError("unsafe_path", `${path} is a symbolic link; remove it: the agent will not listen through a link`);
  if (!st.isSocket()) throw new CredagentError("unsafe_path", `${path} exists and is not a socket; remove it or choose another path with -a`);
  return "socket";
}

export async function listenUnix(path: string, uid: number, onConnection: (socket: net.Socket) => void, beforeListen: () => void = () => {}): Promise<UnixListener> {
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
    // No maxConnections: over it, a client is accepted and reset, and cannot tell a full agent
    // from a dead one. The request server caps connections itself (agent/connection-slots.ts).
    const server = net.createServer({ pauseOnConnect: false }, onConnection);
    const previous = process.umask(0o177);
    try {
      await listening(server, path);
    } finally {
      process.umask(previous);
    }
    let closed = false;
    return {
      server,
      path,
      close() {
        if (closed) return;
        closed = true;
        server.close();
        try {
          unlinkSync(path);
        } catch {
          // already gone: nothing to clean
        }
        lock.release();
      },
    };
  } catch (err) {
    lock.release();
    if (err instanceof CredagentError) throw err;
    throw new CredagentError("unsafe_path", `cannot listen on ${path}: ${(err as NodeJS.ErrnoException).code ?? err}`, { cause: err });
  }
}
