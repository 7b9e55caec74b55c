import type { Stream } from "./stream.ts";
import { isWindowsPipe } from "../paths.ts";
import type { UnixListener } from "./unix.ts";

/**
 * The one facade over the platform's local transport. A socket's single-instance lock lives beside
 * it; a pipe has no directory, so its lock is `pipeLockPath` (paths.ts: in the user's state directory).
 */
export async function listenLocal(
  path: string,
  pipeLockPath: string,
  onStream: (stream: Stream) => void,
  /** Run once the lock is held, before anything can connect (the session token is written here). */
  beforeListen: () => void = () => {},
): Promise<UnixListener> {
  if (process.platform === "win32" || isWindowsPipe(path)) {
    const { listenPipe } = await import("./windows.ts");
    return listenPipe(path, pipeLockPath, onStream, beforeListen);
  }
  const { listenUnixStreams } = await import("./unix.ts");
  return listenUnixStreams(path, process.getuid?.() ?? 0, onStream, beforeListen);
}
