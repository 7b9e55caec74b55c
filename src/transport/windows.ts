import net from "node:net";
import { CredagentError } from "../errors.ts";
import { PipeLock } from "./pipe-lock.ts";
import { listening, whileLocked } from "./listening.ts";
import { nodeStream, type Stream } from "./stream.ts";
import type { UnixListener } from "./unix.ts";

/**
 * A named pipe. Node and Bun cannot set its DACL, so other local users may open it
 * (nodejs/node#47086): the session token, required on pipes (api/guard.ts), is what guards it.
 * One agent per name: the lock file `lockPath` is held first (transport/pipe-lock.ts); libuv's
 * FILE_FLAG_FIRST_PIPE_INSTANCE (EADDRINUSE below) is a second line where the system honours it.
 */
export async function listenPipe(
  name: string,
  lockPath: string,
  onStream: (stream: Stream) => void,
  beforeListen: () => void = () => {},
): Promise<UnixListener> {
  const lock = PipeLock.tryAcquire(lockPath);
  if (!lock) throw new CredagentError("agent_running", `another agent is already serving ${name}; 'credagent stop' stops it`);
  whileLocked(lock, beforeListen);
  const server = net.createServer({ allowHalfOpen: true }, (socket) => onStream(nodeStream(socket)));
  try {
    await listening(server, name);
  } catch (err) {
    lock.release();
    if ((err as NodeJS.ErrnoException).code === "EADDRINUSE") {
      throw new CredagentError("agent_running", `another agent is already serving ${name}; 'credagent stop' stops it`);
    }
    throw new CredagentError("unsafe_path", `cannot listen on ${name}: ${(err as NodeJS.ErrnoException).code ?? err}`, { cause: err });
  }
  let closed = false;
  return {
    path: name,
    stopAccepting: () => server.close(),
    close() {
      if (closed) return;
      closed = true;
      server.close();
      lock.release();
    },
  };
}
