import type { Secret } from "../secret.ts";

// Where long-lived secrets and cached tokens live. Backends: the OS keyring, an encrypted file
// store, and memory (tests). Nothing outside src/store knows which one is in use.

export type StoreBackend = "os" | "file" | "memory";

export interface SecretStore {
  readonly backend: StoreBackend;
  /** For messages: "the OS keyring (Secret Service)", "the encrypted file store at …". */
  readonly description: string;
  /**
   * Said when an entry is not found, where absence may not be what it seems: a locked Secret
   * Service collection reads as "no entry" through the keyring library.
   */
  readonly absentHint?: string;
  get(account: string): Promise<Secret | null>;
  set(account: string, value: Secret): Promise<void>;
  /** True when something was deleted. */
  delete(account: string): Promise<boolean>;
  /** Every entry of ours, with its value, in one call (one D-Bus round trip for the keyring). */
  entries(): Promise<Map<string, Secret>>;
  /** Zeroes what the store holds in memory (the file store's key); later calls fail. */
  close?(): void;
  /** Holds nothing secret of its own, so an agent lock keeps it open (store/open.ts LazyStore.close says why). */
  readonly keptAcrossLock?: boolean;
  /**
   * Where else this account is (another backend's description), for the message when it is not
   * found here: null when nowhere, or when this store cannot tell.
   */
  elsewhere?(account: string): Promise<string | null>;
}

export const SERVICE = "credagent";

/** The encrypted file store's key file, in its directory: its presence says the store exists. */
export const FILE_STORE_KEY = "key.jwe";
export const ENTRY_SUFFIX = ".jwe";

/** An entry's file in the file store: its account's name, so it can be found without the passphrase. */
export const fileEntryName = (account: string) => `${Buffer.from(account, "utf8").toString("base64url")}${ENTRY_SUFFIX}`;
export const fileStoreDescription = (dir: string) => `the encrypted file store at ${dir}`;

/**
 * Account names: `secret:<credential>` for long-lived secrets (client secret, private key, static
 * value), `refresh:<credential>` for refresh tokens, `token:<credential>` for the token cache.
 */
export const secretAccount = (credential: string) => `secret:${credential}`;
export const tokenAccount = (credential: string) => `token:${credential}`;
/** The refresh token a device login obtained (rotated in place on every refresh). */
export const refreshAccount = (credential: string) => `refresh:${credential}`;

export function credentialOf(account: string, kind: "secret" | "token" | "refresh"): string | null {
  return account.startsWith(`${kind}:`) ? account.slice(kind.length + 1) : null;
}
