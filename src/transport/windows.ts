import net from "node:net";
import { CredagentError } from "../errors.ts";
import type { UnixListener } from "./unix.ts";

/**
 * A named pipe. Node and Bun cannot set its DACL, so other local users may open it
 * (nodejs/node#47086): the session token, required on pipes (api/guard.ts), is what guards it.
 * libuv creates the first instance with FILE_FLAG_FIRST_PIPE_INSTANCE, so on Windows listening on
 * a name already served fails with EADDRINUSE, the single-instance check; Wine ignores that flag,
 * and there a second agent listens too (not yet guarded otherwise: see the README's Windows notes).
 */
export async function listenPipe(name: string, onConnection: (socket: net.Socket) => void): Promise<UnixListener> {
  const server = net.createServer(onConnection);
  try {
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(name, () => resolve());
    });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "EADDRINUSE") {
      throw new CredagentError("agent_running", `another agent is already serving ${name}; 'credagent stop' stops it`);
    }
    throw new CredagentError("unsafe_path", `cannot listen on ${name}: ${(err as NodeJS.ErrnoException).code ?? err}`, { cause: err });
  }
  return { server, path: name, close: () => server.close() };
}
