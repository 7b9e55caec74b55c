import { lstatSync, readFileSync } from "node:fs";
import { CredagentError, describe } from "../errors.ts";
import { Secret } from "../secret.ts";
import type { SecretStore } from "./store.ts";

export type KeyringChoice = "auto" | "os" | "file";

export function isKeyringChoice(value: string): value is KeyringChoice {
  return value === "auto" || value === "os" || value === "file";
}

export interface StoreOptions {
  choice: KeyringChoice;
  /** Where the encrypted file store lives. */
  fileDir: string;
  /** The file store's passphrase, or null when there is none to be had. */
  passphrase: () => Promise<Secret | null>;
  /** Told once, when `auto` falls back to the file store, and why. */
  onNotice?: (message: string) => void;
}

/** Opens the configured backend; `auto` tries the OS keyring first, then the file store. */
export async function openStore(options: StoreOptions): Promise<SecretStore> {
  if (options.choice !== "file") {
    try {
      const { OsKeyringStore } = await import("./keyring.ts");
      return await OsKeyringStore.open();
    } catch (err) {
      if (options.choice === "os") throw err;
      options.onNotice?.(`the OS keyring is not available (${describe(err).split("; ")[0]}); using the encrypted file store at ${options.fileDir}`);
    }
  }
  const passphrase = await options.passphrase();
  if (!passphrase) {
    throw new CredagentError(
      "store_unavailable",
      `the encrypted file store at ${options.fileDir} needs a passphrase: set CREDAGENT_FILE_PASSPHRASE, ` +
        `or name a file holding it with file_passphrase_file in the config`,
    );
  }
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
    throw new CredagentError("store_unavailable", `cannot read the passphrase file ${path}: ${(err as NodeJS.ErrnoException).code}`, { cause: err });
  }
  if (!st.isFile() || (st.mode & 0o077) !== 0) {
    throw new CredagentError("store_unavailable", `the passphrase file ${path} must be a regular file readable only by you: run 'chmod 600 ${path}'`);
  }
  const line = readFileSync(path, "utf8").split(/\r?\n/)[0] ?? "";
  if (line === "") throw new CredagentError("store_unavailable", `the passphrase file ${path} is empty`);
  return new Secret(line);
}

/**
 * The store, opened on first use and kept; a failed open is retried at the next use, so an agent
 * started before the keyring was unlocked recovers without a restart.
 */
export class LazyStore implements SecretStore {
  #opened: SecretStore | undefined;
  #opening: Promise<SecretStore> | undefined;

  constructor(private readonly open: () => Promise<SecretStore>) {}

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
      const opening: Promise<SecretStore> = this.open().then(
        // An open that finishes after close() (a lock) serves its caller but is not kept.
        (store) => {
          if (this.#opening === opening) return (this.#opened = store);
          store.close?.();
          throw new CredagentError("locked", "the agent was locked while the secret store was being opened; unlock it first");
        },
        (err) => {
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
