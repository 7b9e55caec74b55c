import { lstatSync, readFileSync, unlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname } from "node:path";
import { capabilities, currentUid } from "./os.ts";

// The compiled executable carries the keyring addon inside it. To load it, the runtime writes it
// out to $TMPDIR/.bun-UID-HASH.node and reuses that file on later starts. When that name is taken
// by a file the user does not own (anyone can make one in a shared /tmp), the runtime rightly
// refuses it and writes a copy under a random name (.HEX-N.node) instead, which it never removes:
// 3 MB left in /tmp by every process that loads the addon, for as long as the squatter stays.
// Once the addon is loaded, that copy's name can go: the mapping keeps its pages.

const ONE_OFF = /^\.[0-9a-f]+-[0-9a-f]+\.node$/;

/** The runtime's one-off addon copies in a /proc/PID/maps text: files in `dir` named .HEX-N.node, still linked. */
export function oneOffAddonCopies(maps: string, dir: string): string[] {
  const found = new Set<string>();
  // Only the few lines that end in .node are looked at (this runs on the way to the first token).
  const text = maps.endsWith("\n") ? maps : `${maps}\n`;
  for (let end = text.indexOf(".node\n"); end !== -1; end = text.indexOf(".node\n", end + 1)) {
    const line = text.slice(text.lastIndexOf("\n", end) + 1, end + ".node".length);
    // address perms offset dev inode path: none of the fields before the path holds a '/'.
    const slash = line.indexOf("/");
    if (slash === -1) continue;
    const path = line.slice(slash);
    if (dirname(path) === dir && ONE_OFF.test(basename(path))) found.add(path);
  }
  return [...found];
}

/**
 * Removes the names of this process's one-off addon copies (Linux: its /proc/self/maps), only
 * regular files of its own user; returns the paths removed. Never throws: litter is not a failure.
 */
export function removeOneOffAddonCopies(maps: () => string = () => readFileSync("/proc/self/maps", "utf8")): string[] {
  if (capabilities.os !== "linux") return [];
  const removed: string[] = [];
  try {
    for (const path of oneOffAddonCopies(maps(), tmpdir())) {
      try {
        const st = lstatSync(path);
        if (!st.isFile() || st.uid !== currentUid()) continue;
        unlinkSync(path);
        removed.push(path);
      } catch {}
    }
  } catch {}
  return removed;
}
