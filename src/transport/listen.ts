import type net from "node:net";
import { isWindowsPipe } from "../paths.ts";
import type { UnixListener } from "./unix.ts";

/** The one facade over the platform's local transport. */
export async function listenLocal(path: string, onConnection: (socket: net.Socket) => void): Promise<UnixListener> {
  if (process.platform === "win32" || isWindowsPipe(path)) {
    const { listenPipe } = await import("./windows.ts");
    return listenPipe(path, onConnection);
  }
  const { listenUnix } = await import("./unix.ts");
  return listenUnix(path, process.getuid?.() ?? 0, onConnection);
}
