import { AsyncEntry, findCredentialsAsync } from "@napi-rs/keyring";
import { CredagentError } from "../errors.ts";
import { Secret, unmovableCopy } from "../secret.ts";
import { SERVICE, type SecretStore } from "./store.ts";
import { removeOneOffAddonCopies } from "../platform/extracted-addons.ts";
import { capabilities } from "../platform/os.ts";

// The addon is loaded (the import above): a copy the runtime had to write under a random name,
// its own being taken by another user's file, goes now (platform/extracted-addons.ts).
removeOneOffAddonCopies();

// Pinned to the Secret Service on Linux: the default silently falls back to kernel keyutils,
// which half-writes a key and then throws AccessDenied. Ignored on macOS and Windows.
const OPTIONS = { linux: { store: "secret-service" as const } };

const HINT: Partial<Record<NodeJS.Platform, string>> = {
  linux:
    "is a Secret Service (gnome-keyring or KWallet) running and unlocked on your D-Bus session? " +
    'On a headless machine use the encrypted file store: keyring = "file"',
  darwin: "is your login Keychain unlocked?",
  win32: "is the Windows Credential Manager available for your user?",
};

/** How to get a Secret Service where there is none, or do without one. */
const GET_ONE =
  "log in to a desktop session (GNOME Keyring or KWallet start with it), or start one for a shell with " +
  "'dbus-run-session -- $SHELL' and, in it, 'gnome-keyring-daemon --unlock --components=secrets' (the keyring's password on " +
  'standard input); or keep secrets in the encrypted file store: keyring = "file"';

/**
 * What the library's error means for the user, in words of their own session: the raw zbus text
 * ("zbus error: Failed to connect to address …") says nothing to someone who never heard of D-Bus.
 */
export function explainKeyringError(detail: string, platform: NodeJS.Platform = capabilities.os): { what: string; hint: string } {
  const text = detail.replace(/^Platform failure: /, "");
  // Credential Manager's 2,560-byte limit is not the keyring being unavailable: say what helps.
  if (/platform limit/.test(text)) return { what: text, hint: 'a value this large does not fit this keyring; keyring = "file" stores it' };
  if (platform === "linux") {
    // zbus (keyring 1.x): "Failed to connect to address `unix:path=…`"; libdbus (2.x): "Failed to
    // connect to socket /…", or "… autolaunch …, set your DBUS_SESSION_BUS_ADDRESS instead".
    const address = /Failed to connect to (?:address `([^`]*)`|socket (\S+?):? )/.exec(text)?.slice(1).find(Boolean);
    if (/Address does not contain a colon|Unknown address type|Bad address/i.test(text)) {
      return { what: "no Secret Service is running in this session (DBUS_SESSION_BUS_ADDRESS is not a D-Bus address)", hint: GET_ONE };
    }
    if (address !== undefined || /DBUS_SESSION_BUS_ADDRESS|session bus|autolaunch/i.test(text)) {
      return {
        what: `no Secret Service is running in this session (no D-Bus session bus${address ? `: nothing listens at ${address}` : ""})`,
        hint: GET_ONE,
      };
    }
    if (/ServiceUnknown|org\.freedesktop\.secrets was not provided/.test(text)) {
      return { what: "no Secret Service is running in this session (the D-Bus session bus has no org.freedesktop.secrets)", hint: GET_ONE };
    }
    return { what: text.replace(/^(?:zbus|DBus) error: /, ""), hint: HINT.linux! };
  }
  return { what: text, hint: HINT[platform] ?? "is the OS keyring available?" };
}

export function keyringDescription(service = SERVICE): string {
  return `the OS keyring (${capabilities.keyring.name}, service '${service}')`;
}

/** The keyring could not be used; `reason` says why in the user's terms (explainKeyringError). */
export class KeyringError extends CredagentError {
  constructor(
    message: string,
    readonly reason: string,
    cause: unknown,
  ) {
    super("store_unavailable", message, { cause });
  }
}

/**
 * The account of the store's own index of its accounts, where listing cannot be trusted. Not a
 * credential's account: those all have a `kind:` prefix (store.ts).
 */
export const INDEX_ACCOUNT = "index";

export interface OsKeyringOptions {
  /**
   * Keep an index of the accounts in an entry of its own, and list from it as well as from the
   * library. On by default on Windows: the library lists with CredEnumerateW and a target filter,
   * which finds nothing under Wine 8 and is not something this project can test on Windows itself;
   * without a listing, `secret list` and the token cache's restore at start would see nothing.
   */
  index?: boolean;
  /** List from the library at all (off in tests of the index alone). */
  enumerate?: boolean;
  /**
   * The account to check the keyring with at open (default: the index): the caller's first.
   * Each entry holds its own D-Bus connection, and a connection costs more than a read (measured:
   * a new entry's first read 7-23 ms at a load of 4, the same entry's next 1-2 ms), so the agent,
   * which reads a cached token first at its start, checks with that one: one connection, not two.
   */
  probe?: string;
}

/** The OS keyring: Secret Service, Keychain or Credential Manager, through @napi-rs/keyring. */
export class OsKeyringStore implements SecretStore {
  readonly backend = "os" as const;
  readonly absentHint = "or the keyring is locked: unlock it";
  // Its entries hold D-Bus connections, not secrets: collecting them at every lock deadlocked
  // the agent once (store/open.ts).
  readonly keptAcrossLock = true;
  readonly description: string;
  // Every Secret Service Entry holds its own D-Bus connection until collected: one per account,
  // reused, or a loop of new entries runs out of file descriptors.
  readonly #entries = new Map<string, AsyncEntry>();

  readonly #index: boolean;
  readonly #enumerate: boolean;

  private constructor(
    private readonly service: string,
    options: OsKeyringOptions,
  ) {
    this.#index = options.index ?? !capabilities.keyring.listsAccounts;
    this.#enumerate = options.enumerate ?? true;
    this.description = keyringDescription(service);
  }

  /**
   * Opens the keyring and checks that it answers, by reading one entry that is not a secret (the
   * index, absent where there is none): listing would read every secret, and the library hands
   * listed values over as strings, which cannot be zeroed.
   */
  static async open(service = SERVICE, options: OsKeyringOptions = {}): Promise<OsKeyringStore> {
    const store = new OsKeyringStore(service, options);
    (await store.get(options.probe ?? INDEX_ACCOUNT))?.wipe();
    return store;
  }

  async get(account: string): Promise<Secret | null> {
    // As bytes, never a string: the Secret can zero them (a string would linger in freed memory).
    // Over an ArrayBuffer of their own, as in set(): a small array's bytes would be moved (and
    // left behind) the first time a parser takes a subarray of them.
    const value = await this.#call("read", () => this.#entry(account).getSecret());
    if (value === null) return null;
    const secret = new Secret(unmovableCopy(value));
    // The library answers with an array of numbers, each byte in a value of the runtime's own: left
    // as it is, the secret would stay in the heap, byte by byte, until that memory is reused.
    value.fill(0);
    return secret;
  }

  async set(account: string, value: Secret): Promise<void> {
    // Handed to the library in a buffer of its own, zeroed once written. A small Uint8Array keeps
    // its bytes inside the runtime's heap object, and handing it to a native library moves them to
    // a new backing store: the bytes left behind are never zeroed (a cached token's whole record
    // stayed in the agent's memory after a lock). An array over its own ArrayBuffer does not move.
    const copy = unmovableCopy(value.bytes());
    try {
      await this.#call("write", () => this.#entry(account).setSecret(copy));
    } finally {
      copy.fill(0);
    }
    if (this.#index) await this.#updateIndex((accounts) => !accounts.has(account) && accounts.add(account) !== undefined);
  }

  async delete(account: string): Promise<boolean> {
    const deleted = await this.#call("delete", () => this.#entry(account).deleteCredential());
    if (this.#index) await this.#updateIndex((accounts) => accounts.delete(account));
    return deleted;
  }

  /**
   * Every entry. The library lists values as strings (findCredentials), which linger in memory
   * once dropped: the agent never lists (it reads the accounts it knows with get()); the CLI's
   * `secret list` does, in a process that exits.
   */
  async entries(): Promise<Map<string, Secret>> {
    const found = this.#enumerate ? await this.#call("list", () => findCredentialsAsync(this.service)) : [];
    const entries = new Map(found.filter((c) => c.account !== INDEX_ACCOUNT).map((c) => [c.account, new Secret(c.password)]));
    if (!this.#index) return entries;
    for (const account of await this.#readIndex()) {
      if (entries.has(account)) continue;
      const value = await this.get(account);
      if (value) entries.set(account, value);
    }
    return entries;
  }

  async #readIndex(): Promise<Set<string>> {
    const raw = await this.get(INDEX_ACCOUNT);
    if (!raw) return new Set();
    try {
      const parsed: unknown = JSON.parse(new TextDecoder().decode(raw.bytes()));
      return new Set(Array.isArray(parsed) ? parsed.filter((a): a is string => typeof a === "string") : []);
    } catch {
      // A damaged index lists nothing; the next write rebuilds it from what is written then.
      return new Set();
    } finally {
      raw.wipe();
    }
  }

  /**
   * Read, change, write back only when it changed: a token cache rewriting its entry every hour
   * costs no index write. Two processes adding different accounts at the same instant can lose one
   * from the index (the keyring has no transactions); what is lost is listing only: get() of that
   * account still finds it, and the next set() of it puts it back.
   */
  async #updateIndex(change: (accounts: Set<string>) => boolean): Promise<void> {
    const accounts = await this.#readIndex();
    if (!change(accounts)) return;
    const value = new Secret(new TextEncoder().encode(JSON.stringify([...accounts].sort())));
    try {
      await this.#call("write", () => this.#entry(INDEX_ACCOUNT).setSecret(value.bytes()));
    } finally {
      value.wipe();
    }
  }

  #entry(account: string): AsyncEntry {
    let entry = this.#entries.get(account);
    if (!entry) {
      entry = new AsyncEntry(this.service, account, OPTIONS);
      this.#entries.set(account, entry);
    }
    return entry;
  }

  async #call<T>(what: string, op: () => Promise<T>): Promise<T> {
    try {
      return await op();
    } catch (err) {
      const { what: why, hint } = explainKeyringError(err instanceof Error ? err.message : String(err));
      throw new KeyringError(`cannot ${what} ${this.description}: ${why}; ${hint}`, why, err);
    }
  }

  /**
   * Whether the keyring holds this account, for saying where a secret missing from the file store
   * is; false when the keyring cannot be asked (within timeoutMs: a locked collection may prompt).
   */
  static async holds(account: string, timeoutMs = 2_000, service = SERVICE): Promise<boolean> {
    const entry = new AsyncEntry(service, account, OPTIONS);
    const found = entry.getSecret().then(
      (value) => {
        value?.fill(0);
        return value != null;
      },
      () => false,
    );
    return Promise.race([found, Bun.sleep(timeoutMs).then(() => false)]);
  }
}
