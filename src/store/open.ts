import { FILE_STORE_KEY } from "./store.ts";
import { existsSync, lstatSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { CredagentError, describe } from "../errors.ts";
import { Secret } from "../secret.ts";
import { KEYRING_CHOICES, type KeyringChoice, type StoreStatus } from "../wire/types.ts";
import { WrongPassphraseError } from "./wrong-passphrase.ts";
import type { SecretStore } from "./store.ts";

/** The file store's wrapped key: present once the store has been created (see file.ts). */

export type { KeyringChoice };

export interface StoreOptions {
  choice: KeyringChoice;
  /** Where the encrypted file store lives. */
  fileDir: string;
  /** The file store's passphrase, or null when there is none to be had. */
  passphrase: () => Promise<Secret | null>;
  /** Opened by the running agent, which can be given the passphrase later (`credagent unlock`). */
  inAgent?: boolean;
  /** Told once, when `auto` falls back to the file store, and why. */
  onNotice?: (message: string) => void;
  /**
   * For CLI commands: the fallback is told only while the file store does not exist yet, so that
   * it is said when the store is created, not on every command (the agent says it once in its log).
   */
  noticeOnlyOnCreate?: boolean;
}

/**
 * The file store has no passphrase. In the agent (`inAgent`) it waits for one from
 * `credagent unlock`; a CLI command that opens the store itself can only be told where to put one.
 */
export class StoreLockedError extends CredagentError {
  constructor(fileDir: string, inAgent: boolean) {
    const before = "set CREDAGENT_FILE_PASSPHRASE, or name a file holding it with file_passphrase_file in the config";
    super(
      inAgent ? "locked" : "store_unavailable",
      inAgent
        ? `the encrypted file store at ${fileDir} is locked: run 'credagent unlock' to give the running agent its passphrase (or, before start, ${before})`
        : `the encrypted file store at ${fileDir} needs a passphrase: ${before}`,
    );
  }
}

/** Opens the configured backend; `auto` tries the OS keyring first, then the file store. */
export async function openStore(options: StoreOptions): Promise<SecretStore> {
  if (options.choice !== "file") {
    try {
      const { OsKeyringStore } = await import("./keyring.ts");
      return await OsKeyringStore.open();
    } catch (err) {
      if (options.choice === "os") throw err;
      if (!options.noticeOnlyOnCreate || !existsSync(join(options.fileDir, FILE_STORE_KEY)))
        options.onNotice?.(
          `the OS keyring is not available (${describe(err).split("; ")[0]}); using the encrypted file store at ${options.fileDir}`,
        );
    }
  }
  const passphrase = await options.passphrase();
  if (!passphrase) throw new StoreLockedError(options.fileDir, options.inAgent ?? false);
  const { FileStore } = await import("./file.ts");
  try {
    return await FileStore.open(options.fileDir, passphrase);
  } finally {
    passphrase.wipe();
  }
}

/** A passphrase from a file only the user can read; its first line, without the newline. */
export function readPassphraseFile(path: string): Secret {
  let st;
  try {
    st = lstatSync(path);
  } catch (err) {
    throw new CredagentError("store_unavailable", `cannot read the passphrase file ${path}: ${(err as NodeJS.ErrnoException).code}`, {
      cause: err,
    });
  }
  if (!st.isFile() || (st.mode & 0o077) !== 0) {
    throw new CredagentError(
      "store_unavailable",
      `the passphrase file ${path} must be a regular file readable only by you: run 'chmod 600 ${path}'`,
    );
  }
  const line = readFileSync(path, "utf8").split(/\r?\n/)[0] ?? "";
  if (line === "") throw new CredagentError("store_unavailable", `the passphrase file ${path} is empty`);
  return new Secret(line);
}

/**
 * The store, opened on first use and kept; a failed open is retried at the next use, so an agent
 * started before the keyring was unlocked recovers without a restart. The file store's passphrase
 * may come later, from `credagent unlock`: it is then kept as bytes for the life of the agent,
 * as the one from the environment is, because the store is opened again after an agent lock.
 */
export class LazyStore implements SecretStore {
  #opened: SecretStore | undefined;
  #opening: Promise<SecretStore> | undefined;
  #given: Secret | undefined;
  #waiting: boolean;

  /** `waiting`: known at start to be the file store with no passphrase to be had. */
  constructor(
    private readonly open: (given: Secret | undefined) => Promise<SecretStore>,
    options: { waiting?: boolean } = {},
  ) {
    this.#waiting = options.waiting ?? false;
  }

  status(): StoreStatus {
    if (this.#opened) return { state: "open", description: this.#opened.description };
    if (this.#waiting)
      return { state: "locked", description: "the encrypted file store, waiting for its passphrase: run 'credagent unlock'" };
    return { state: "closed", description: "not opened yet: it opens at first use" };
  }

  /**
   * Opens the store waiting for its passphrase with this one, and keeps it if it opens the store;
   * the caller's copy is zeroed either way.
   */
  async unlock(passphrase: Secret): Promise<void> {
    try {
      if (!this.#waiting || this.#opened) throw new CredagentError("bad_request", "the secret store does not wait for a passphrase");
      if (this.#opening) {
        throw new CredagentError("too_many_attempts", "the secret store is being opened; try again in 0.3 s", { retryAfterMs: 250 });
      }
      if (passphrase.byteLength === 0) throw new CredagentError("bad_request", "the passphrase must not be empty");
      const candidate = new Secret(passphrase.bytes().slice());
      this.#given = candidate;
      try {
        await this.#store();
      } catch (err) {
        if (this.#given === candidate) this.#given = undefined;
        candidate.wipe();
        if (err instanceof WrongPassphraseError) {
          throw new CredagentError("forbidden", "wrong passphrase for the encrypted file store; it stays locked", { cause: err });
        }
        throw err;
      }
    } finally {
      passphrase.wipe();
    }
  }

  get absentHint() {
    return this.#opened?.absentHint;
  }
  get backend() {
    return this.#opened?.backend ?? "os";
  }
  get description() {
    return this.#opened?.description ?? "the secret store (not opened yet)";
  }

  /** Forgets the opened store (and with it the file store's key); the next use opens it again. */
  close(): void {
    this.#opened?.close?.();
    this.#opened = undefined;
    this.#opening = undefined;
  }

  async #store(): Promise<SecretStore> {
    if (this.#opened) return this.#opened;
    if (!this.#opening) {
      const opening: Promise<SecretStore> = this.open(this.#given).then(
        // An open that finishes after close() (a lock) is closed again and not kept: its caller is told.
        (store) => {
          this.#waiting = false;
          if (this.#opening === opening) return (this.#opened = store);
          store.close?.();
          throw new CredagentError("locked", "the agent was locked while the secret store was being opened; unlock it first");
        },
        (err) => {
          if (err instanceof StoreLockedError) this.#waiting = true;
          if (this.#opening === opening) this.#opening = undefined;
          throw err;
        },
      );
      this.#opening = opening;
    }
    return this.#opening;
  }

  async get(account: string) {
    return (await this.#store()).get(account);
  }
  async set(account: string, value: Secret) {
    return (await this.#store()).set(account, value);
  }
  async delete(account: string) {
    return (await this.#store()).delete(account);
  }
  async entries() {
    return (await this.#store()).entries();
  }
}
