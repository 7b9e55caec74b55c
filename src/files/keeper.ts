import { CredagentError, describe } from "../errors.ts";
import type { Logger } from "../log/log.ts";
import type { FileState, FileSummary } from "../wire/types.ts";
import type { OnChangeOutcome } from "./on-change.ts";
import { ValueMissing, type ValueSource } from "./render.ts";
import type { OwnedFiles } from "./write.ts";

// The files the agent keeps fresh: each is rewritten when a credential it uses gets a new value
// (the registry refreshes those ahead of expiry, so the file changes before the old value stops
// working), and after unlock; on lock and stop it is removed, or, with keep = true, rewritten with
// its secrets blank. A rewrite that changed the file runs its on_change program.

export interface KeptFile {
  name: string;
  path: string;
  /** The home directory the path must be in; null for a file in the agent's runtime directory. */
  home: string | null;
  format: string;
  mode: number;
  keep: boolean;
  replace: boolean;
  onChange?: { argv: string[]; timeoutMs: number };
  /** Every credential whose new value rewrites it. */
  credentials: string[];
  /** The file's text; blank: secrets empty. Throws ValueMissing (not yet) or ValueRefused (never). */
  render(values: ValueSource, blank: boolean): string;
}

export interface FileKeeperDeps {
  owned: OwnedFiles;
  values: ValueSource;
  log: Logger;
  now: () => number;
  runOnChange: (argv: string[], timeoutMs: number) => Promise<OnChangeOutcome>;
}

interface Entry {
  file: KeptFile;
  state: FileState;
  writtenAt: number | null;
  error: string | null;
  /** Of the bytes last written: a rewrite with the same content runs no on_change. */
  digest: string | null;
  onChange: OnChangeOutcome | null;
  running: Promise<void> | null;
  again: boolean;
}

export class FileKeeper {
  #entries = new Map<string, Entry>();
  #locked = false;
  #stopped = false;

  constructor(private readonly deps: FileKeeperDeps) {}

  /** Takes the files of a (re)loaded config: files gone (or moved) are removed, the rest written. */
  apply(files: KeptFile[]): void {
    const next = new Map<string, Entry>();
    for (const file of files) {
      const old = this.#entries.get(file.name);
      const same = old && old.file.path === file.path;
      next.set(file.name, {
        file,
        state: same ? old.state : "removed",
        writtenAt: same ? old.writtenAt : null,
        error: null,
        digest: same ? old.digest : null,
        onChange: same ? old.onChange : null,
        running: same ? old.running : null,
        again: false,
      });
    }
    for (const [name, old] of this.#entries) {
      if (next.get(name)?.file.path !== old.file.path) this.#remove(old);
    }
    this.#entries = next;
    this.writeAll();
  }

  /** A credential got a new value: the files using it are rewritten. */
  credentialChanged(credential: string): void {
    if (this.#locked || this.#stopped) return;
    for (const entry of this.#entries.values()) if (entry.file.credentials.includes(credential)) this.#write(entry, false);
  }

  writeAll(): void {
    if (this.#locked || this.#stopped) return;
    for (const entry of this.#entries.values()) this.#write(entry, false);
  }

  /** No secret stays on disk while locked: each file is removed, or blanked when it is to be kept. */
  lock(): void {
    this.#locked = true;
    this.#takeDown();
  }

  unlock(): void {
    this.#locked = false;
    this.writeAll();
  }

  stop(): void {
    this.#stopped = true;
    this.#takeDown();
  }

  list(): FileSummary[] {
    return [...this.#entries.values()].map((e) => ({
      name: e.file.name,
      path: e.file.path,
      format: e.file.format,
      mode: `0${e.file.mode.toString(8)}`,
      credentials: e.file.credentials,
      state: e.state,
      written_at: e.writtenAt === null ? null : new Date(e.writtenAt).toISOString(),
      error: e.error,
      on_change: e.onChange && { ran_at: new Date(e.onChange.ranAt).toISOString(), ok: e.onChange.ok, error: e.onChange.error },
    }));
  }

  file(name: string): KeptFile {
    const entry = this.#entries.get(name);
    if (!entry) {
      const names = [...this.#entries.keys()];
      throw new CredagentError("not_found", `no file named '${name}' is configured (the files: ${names.join(", ") || "none"})`);
    }
    return entry.file;
  }

  #takeDown(): void {
    for (const entry of this.#entries.values()) {
      if (entry.file.keep) this.#write(entry, true);
      else this.#remove(entry);
    }
  }

  #remove(entry: Entry): void {
    try {
      const outcome = this.deps.owned.remove(entry.file.path);
      if (outcome === "not_ours")
        this.deps.log.warn("a kept file was changed by someone else: left in place", { file: entry.file.name, path: entry.file.path });
      entry.state = "removed";
    } catch (err) {
      this.#failed(entry, `cannot remove it: ${describe(err)}`);
    }
  }

  #write(entry: Entry, blank: boolean): void {
    const { file } = entry;
    let text: string;
    try {
      text = file.render(this.deps.values, blank);
    } catch (err) {
      if (err instanceof ValueMissing) {
        if (entry.state !== "written") this.#set(entry, "waiting", err.message);
        return;
      }
      // ValueRefused, or a file kind's own refusal (a line break in a pgpass password): never a value.
      return this.#failed(entry, describe(err));
    }
    const bytes = Buffer.from(text, "utf8");
    const digest = new Bun.CryptoHasher("sha256").update(bytes).digest("hex");
    try {
      this.deps.owned.write({ name: file.name, path: file.path, mode: file.mode, home: file.home, replace: file.replace }, bytes);
    } catch (err) {
      return this.#failed(entry, describe(err));
    } finally {
      bytes.fill(0);
    }
    const changed = digest !== entry.digest;
    entry.digest = digest;
    entry.writtenAt = this.deps.now();
    this.#set(entry, blank ? "blanked" : "written", null);
    if (changed && file.onChange && !this.#stopped) this.#runOnChange(entry);
  }

  #set(entry: Entry, state: FileState, error: string | null): void {
    if (error !== null && error !== entry.error) this.deps.log.info("kept file not written yet", { file: entry.file.name, why: error });
    entry.state = state;
    entry.error = error;
  }

  #failed(entry: Entry, error: string): void {
    if (error !== entry.error) this.deps.log.warn("cannot write a kept file", { file: entry.file.name, path: entry.file.path, error });
    entry.state = "failed";
    entry.error = error;
  }

  /** One run at a time per file; rewrites during a run make one more run after it. */
  #runOnChange(entry: Entry): void {
    if (entry.running) {
      entry.again = true;
      return;
    }
    const { argv, timeoutMs } = entry.file.onChange!;
    entry.running = this.deps.runOnChange(argv, timeoutMs).then((outcome) => {
      entry.onChange = outcome;
      entry.running = null;
      if (outcome.ok) this.deps.log.info("on_change ran", { file: entry.file.name });
      else this.deps.log.warn("on_change failed", { file: entry.file.name, error: outcome.error });
      if (entry.again && !this.#stopped) {
        entry.again = false;
        this.#runOnChange(entry);
      }
    });
  }
}
