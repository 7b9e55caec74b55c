import { readFileSync } from "node:fs";
import { join } from "node:path";

// The socket-path table (test/fixtures/socket-paths.json) that the CLI's, the Node client's and
// the Python client's tests all read: the three find the agent in the same place.

export interface SocketPathCase {
  name: string;
  platform: NodeJS.Platform;
  uid: number;
  username: string;
  env: Record<string, string>;
  private_dirs: string[];
  socket: string;
  token_file: string;
}

export const socketPathCases: SocketPathCase[] = (
  JSON.parse(readFileSync(join(import.meta.dir, "../fixtures/socket-paths.json"), "utf8")) as { cases: SocketPathCase[] }
).cases;
