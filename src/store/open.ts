import { existsSync, lstatSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { CredagentError, describe } from "../errors.ts";
import { Secret } from "../secret.ts";
import { KEYRING_CHOICES, type KeyringChoice, type StoreStatus } from "../wire/types.ts";
import { WrongPassphraseError } from "./wrong-passphrase.ts";
import { FILE_STORE_KEY, fileEntryName, fileStoreDescription, type SecretStore, type StoreBackend } from "./store.ts";

/** Whether a file store was created at dir (its wrapped key is there). */
export const fileStoreExists = (dir: string) => existsSync(join(dir, FILE_STORE_KEY));

export type { KeyringChoice };

export interface StoreOptions {
  choice: KeyringChoice;
  /** Where the choice was made, for saying why a store is in use: `keyring = "auto"`, `--keyring file`. */
  choiceFrom?: string;
  /** Where the encrypted file store lives. */
  fileDir: string;
  /**
   * The file store's passphrase, or null when there is none to be had. `creating`: no store exists
   * yet, so the passphrase given makes one (a prompt asks it twice).
   */
  passphrase: (creating: boolean) => Promise<Secret | null>;
  /** Opened by the running agent, which can be given the passphrase later (`credagent unlock`). */
  inAgent?: boolean;
  /** The account the caller reads first: the OS keyring is checked by reading it (OsKeyringOptions.probe). */
  firstAccount?: string;
  /** Told once, when `auto` falls back to the file store, and why. */
  onNotice?: (message: string) => void;
  /**
   * For CLI commands: the fallback is told only while the file store does not exist yet, so that
   * it is said when the store is created, not on every command (the agent says it once in its log).
   */
  noticeOnlyOnCreate?: boolean;
}

/** An open store, and why it is the one in use (said by `credagent status`). */
export interface OpenedStore {
  store: SecretStore;
  why: string;
}

/**
 * The file store has no passphrase. In the agent (`inAgent`) it waits for one from
 * `credagent unlock`; a CLI command that opens the store itself can only be told where to put one.
 */
export class StoreLockedError extends CredagentError {
  /** Why the file store is the one in use. */
  readonly why: string;
  constructor(fileDir: string, inAgent: boolean, why = "") {
    const before = "set CREDAGENT_FILE_PASSPHRASE, or name a file holding it with file_passphrase_file in the config";
    super(
      inAgent ? "locked" : "store_unavailable",
      inAgent
        ? `the encrypted file store at ${fileDir} is locked: run 'credagent unlock' to give the running agent its passphrase (or, before start, ${before})`
        : `the encrypted file store at ${fileDir} needs a passphrase: ${before}`,
    );
    this.why = why;
  }
}

/** Opens the configured backend; `auto` tries the OS keyring first, then the file store. */
export async function openStore(options: StoreOptions): Promise<OpenedStore> {
  const from = options.choiceFrom ?? `keyring = "${options.choice}"`;
  let why = from;
  if (options.choice !== "file") {
    try {
      const { OsKeyringStore } = await import("./keyring.ts");
      const store = await OsKeyringStore.open(undefined, options.firstAccount === undefined ? {} : { probe: options.firstAccount });
      return { store, why: options.choice === "auto" ? `${from}, and the OS keyring answered` : from };
    } catch (err) {
      if (options.choice === "os") throw err;
      const reason = err instanceof CredagentError && "reason" in err && typeof err.reason === "string" ? err.reason : describe(err);
      const unavailable = `the OS keyring is not available: ${reason}`;
      why = `${from}, and ${unavailable}`;
      if (!options.noticeOnlyOnCreate || !fileStoreExists(options.fileDir))
        options.onNotice?.(`${unavailable}; using the encrypted file store at ${options.fileDir}`);
    }
  }
  const passphrase = await options.passphrase(!fileStoreExists(options.fileDir));
  if (!passphrase) throw new StoreLockedError(options.fileDir, options.inAgent ?? false, why);
  const { FileStore } = await import("./file.ts");
  try {
    return { store: await FileStore.open(options.fileDir, passphrase), why };
  } finally {
    passphrase.wipe();
  }
}

/** Which store a choice will use, said while none is open yet. */
export function storeIntent(choice: KeyringChoice, from: string, fileDir: string): string {
  if (choice === "auto") return `${from}: the OS keyring if it answers at first use, else the encrypted file store at ${fileDir}`;
  return from;
}

/**
 * The other backend's description when it holds this account: a secret set while the other store
 * was in use (before a keyring existed, or in a shell without one) is found there, not lost.
 * The file store is looked at without its passphrase (entries are named by account); the OS keyring
 * is asked with a time limit, and any failure reads as "not there".
 */
export async function otherStoreHolding(inUse: StoreBackend, account: string, fileDir: string): Promise<string | null> {
  if (inUse === "os") return existsSync(join(fileDir, fileEntryName(account))) ? fileStoreDescription(fileDir) : null;
  if (inUse !== "file") return null;
  try {
    const { OsKeyringStore, keyringDescription } = await import("./keyring.ts");
    return (await OsKeyringStore.holds(account)) ? keyringDescription() : null;
  } catch {
    return null;
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
  #opened: OpenedStore | undefined;
  #opening: Promise<OpenedStore> | undefined;
  #given: Secret | undefined;
  #waiting: boolean;
  /** Why the file store waits for a passphrase (keyring = "file", or auto without a keyring). */
  #lockedWhy: string | undefined;
  readonly #intent: string | undefined;
  readonly #elsewhere: ((inUse: StoreBackend, account: string) => Promise<string | null>) | undefined;

  /**
   * `waiting`: known at start to be the file store with no passphrase to be had. `intent`: which
   * store will be used, said while none is open. `elsewhere`: where else an account may be.
   */
  constructor(
    /** Opens the store; `firstAccount`: the account of the use that opens it. */
    private readonly open: (given: Secret | undefined, firstAccount?: string) => Promise<OpenedStore>,
    options: {
      waiting?: boolean;
      intent?: string;
      elsewhere?: (inUse: StoreBackend, account: string) => Promise<string | null>;
    } = {},
  ) {
    this.#waiting = options.waiting ?? false;
    this.#intent = options.intent;
    this.#lockedWhy = options.waiting ? options.intent : undefined;
    this.#elsewhere = options.elsewhere;
  }

  status(): StoreStatus {
    if (this.#opened) {
      const { store, why } = this.#opened;
      return {
        state: "open",
        description: store.description,
        ...(isUserBackend(store.backend) ? { backend: store.backend } : {}),
        reason: why,
      };
    }
    const reason = this.#waiting ? (this.#lockedWhy ?? this.#intent) : this.#intent;
    if (this.#waiting)
      return {
        state: "locked",
        description: "the encrypted file store, waiting for its passphrase: run 'credagent unlock'",
        backend: "file",
        ...(reason ? { reason } : {}),
      };
    return { state: "closed", description: "not opened yet: it opens at first use", ...(reason ? { reason } : {}) };
  }

  async elsewhere(account: string): Promise<string | null> {
    if (!this.#opened || !this.#elsewhere) return null;
    return this.#elsewhere(this.#opened.store.backend, account);
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
    return this.#opened?.store.absentHint;
  }
  get backend() {
    return this.#opened?.store.backend ?? "os";
  }
  get description() {
    return this.#opened?.store.description ?? "the secret store (not opened yet)";
  }

  /**
   * Forgets the opened store (and with it the file store's key); the next use opens it again. A
   * store that holds nothing secret of its own (the OS keyring: keptAcrossLock) is kept: each of its
   * entries holds a D-Bus connection, and letting them be collected at a lock while the next
   * store's entries are used from the library's threads deadlocked the agent (seen at unlock
   * under a connection storm: one thread spinning in pselect, the event loop stopped).
   */
  close(): void {
    if (this.#opened?.store.keptAcrossLock) return;
    this.#opened?.store.close?.();
    this.#opened = undefined;
    this.#opening = undefined;
  }

  async #store(firstAccount?: string): Promise<SecretStore> {
    if (this.#opened) return this.#opened.store;
    if (!this.#opening) {
      const opening: Promise<OpenedStore> = this.open(this.#given, firstAccount).then(
        // An open that finishes after close() (a lock) is closed again and not kept: its caller is told.
        (opened) => {
          this.#waiting = false;
          if (this.#opening === opening) return (this.#opened = opened);
          opened.store.close?.();
          throw new CredagentError("locked", "the agent was locked while the secret store was being opened; unlock it first");
        },
        (err) => {
          if (err instanceof StoreLockedError) {
            this.#waiting = true;
            if (err.why) this.#lockedWhy = err.why;
          }
          if (this.#opening === opening) this.#opening = undefined;
          throw err;
        },
      );
      this.#opening = opening;
    }
    return (await this.#opening).store;
  }

  async get(account: string) {
    return (await this.#store(account)).get(account);
  }
  async set(account: string, value: Secret) {
    return (await this.#store(account)).set(account, value);
  }
  async delete(account: string) {
    return (await this.#store(account)).delete(account);
  }
  async entries() {
    return (await this.#store()).entries();
  }
}

const isUserBackend = (backend: StoreBackend): backend is "os" | "file" => backend === "os" || backend === "file";
