import {
  closeSync,
  fchmodSync,
  fsyncSync,
  lstatSync,
  mkdirSync,
  openSync,
  readFileSync,
  realpathSync,
  renameSync,
  rmSync,
  writeSync,
} from "node:fs";
import { basename, dirname, isAbsolute, join, resolve, sep } from "node:path";
import { CredagentError } from "../errors.ts";

// Writing a file that holds secrets where a program expects it. Atomic (a temp file beside it,
// fsync, rename: a reader sees the old file or the new one, never half of one), with the mode asked.
// Outside the agent's runtime directory it must be in the user's home and not a symlink, and a file
// credagent did not write is never overwritten or removed: which files it wrote is recorded (device,
// inode, size, mtime after each write) in a state file, so that this holds across agent restarts.

export interface WriteTarget {
  /** The file's name in the config, for messages. */
  name: string;
  path: string;
  mode: number;
  /** The user's home directory the path must be in; null when it is in the agent's runtime directory. */
  home: string | null;
  /** Overwrite a file credagent did not write (`replace = true`). */
  replace: boolean;
}

interface Stamp {
  dev: string;
  ino: string;
  size: string;
  mtimeNs: string;
}

export class OwnedFiles {
  #stamps: Map<string, Stamp>;

  /** `recordPath`: where the stamps are kept (the state directory); null keeps them in memory only. */
  constructor(private readonly recordPath: string | null) {
    this.#stamps = new Map(Object.entries(readRecord(recordPath)));
  }

  /** Writes bytes to target.path; throws CredagentError("unsafe_path") saying how to fix a refusal. */
  write(target: WriteTarget, bytes: Uint8Array): void {
    const path = resolve(target.path);
    const dir = dirname(path);
    if (target.home !== null) assertInHome(target, path);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    if (target.home !== null) assertInHome(target, path, realpathSync(dir));
    const existing = lstatSync(path, { throwIfNoEntry: false, bigint: true });
    if (existing?.isSymbolicLink()) {
      throw new CredagentError(
        "unsafe_path",
        `[files.${target.name}]: ${path} is a symbolic link; credagent writes only a regular file there: remove the link, or set another path`,
      );
    }
    if (existing && !existing.isFile()) {
      throw new CredagentError(
        "unsafe_path",
        `[files.${target.name}]: ${path} exists and is not a regular file: remove it, or set another path`,
      );
    }
    if (existing && !target.replace && !this.#isOurs(path, existing)) {
      throw new CredagentError(
        "unsafe_path",
        `[files.${target.name}]: ${path} exists and credagent did not write it; it is left as it is: move it aside (mv ${path} ${path}.orig) or set replace = true in [files.${target.name}]`,
      );
    }
    const temp = join(dir, `.${basename(path)}.credagent-${process.pid}.tmp`);
    try {
      rmSync(temp, { force: true });
      const fd = openSync(temp, "wx", 0o600);
      try {
        // open() applies the umask: the mode asked is set on the descriptor, before any byte is in it.
        fchmodSync(fd, target.mode);
        writeSync(fd, bytes);
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      renameSync(temp, path);
    } catch (err) {
      rmSync(temp, { force: true });
      throw err;
    }
    syncDirectory(dir);
    this.#stamp(path);
  }

  /** Removes the file if credagent wrote it (and nobody changed it since); a file of someone else's stays. */
  remove(path: string): "removed" | "absent" | "not_ours" {
    const full = resolve(path);
    const st = lstatSync(full, { throwIfNoEntry: false, bigint: true });
    if (!st) {
      this.#forget(full);
      return "absent";
    }
    if (!this.#isOurs(full, st)) return "not_ours";
    rmSync(full, { force: true });
    this.#forget(full);
    return "removed";
  }

  #isOurs(path: string, st: import("node:fs").BigIntStats): boolean {
    const stamp = this.#stamps.get(path);
    return (
      stamp !== undefined &&
      st.isFile() &&
      stamp.dev === String(st.dev) &&
      stamp.ino === String(st.ino) &&
      stamp.size === String(st.size) &&
      stamp.mtimeNs === String(st.mtimeNs)
    );
  }

  #stamp(path: string): void {
    const st = lstatSync(path, { bigint: true });
    this.#stamps.set(path, { dev: String(st.dev), ino: String(st.ino), size: String(st.size), mtimeNs: String(st.mtimeNs) });
    this.#save();
  }

  #forget(path: string): void {
    if (this.#stamps.delete(path)) this.#save();
  }

  #save(): void {
    if (this.recordPath === null) return;
    const dir = dirname(this.recordPath);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const temp = `${this.recordPath}.${process.pid}.tmp`;
    const fd = openSync(temp, "w", 0o600);
    try {
      writeSync(fd, `${JSON.stringify(Object.fromEntries(this.#stamps), null, 1)}\n`);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temp, this.recordPath);
  }
}

function readRecord(path: string | null): Record<string, Stamp> {
  if (path === null) return {};
  try {
    const parsed = JSON.parse(readFileSync(path, "utf8")) as unknown;
    return parsed && typeof parsed === "object" ? (parsed as Record<string, Stamp>) : {};
  } catch {
    return {};
  }
}

/** The path (and, once it exists, its directory with symlinks resolved) must be inside the home directory. */
function assertInHome(target: WriteTarget, path: string, realDir?: string): void {
  const home = target.home!;
  const inside = (p: string, root: string) => p.startsWith(root.endsWith(sep) ? root : root + sep);
  let realHome = home;
  try {
    realHome = realpathSync(home);
  } catch {}
  const ok = isAbsolute(path) && inside(path, home) && (realDir === undefined || realDir === realHome || inside(realDir + sep, realHome));
  if (!ok) {
    throw new CredagentError(
      "unsafe_path",
      `[files.${target.name}]: ${path} is not in your home directory (${home}); a file with secrets goes in your home, or leave path out to keep it in the agent's runtime directory`,
    );
  }
}

function syncDirectory(dir: string): void {
  try {
    const fd = openSync(dir, "r");
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    // Not every platform or file system lets a directory be synced; the rename is done either way.
  }
}
