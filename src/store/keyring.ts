import { AsyncEntry, findCredentialsAsync } from "@napi-rs/keyring";
import { CredagentError } from "../errors.ts";
import { Secret } from "../secret.ts";
import { SERVICE, type SecretStore } from "./store.ts";

// Pinned to the Secret Service on Linux: the default silently falls back to kernel keyutils,
// which half-writes a key and then throws AccessDenied. Ignored on macOS and Windows.
const OPTIONS = { linux: { store: "secret-service" as const } };

const HINT: Partial<Record<NodeJS.Platform, string>> = {
  linux:
    "is a Secret Service (gnome-keyring or KWallet) running and unlocked on your D-Bus session? " +
    "On a headless machine use the encrypted file store: keyring = \"file\"",
  darwin: "is your login Keychain unlocked?",
  win32: "is the Windows Credential Manager available for your user?",
};

/** The OS keyring: Secret Service, Keychain or Credential Manager, through @napi-rs/keyring. */
export class OsKeyringStore implements SecretStore {
  readonly backend = "os" as const;
  readonly absentHint = "or the keyring is locked: unlock it";
  readonly description: string;
  // Every Secret Service Entry holds its own D-Bus connection until collected: one per account,
  // reused, or a loop of new entries runs out of file descriptors.
  readonly #entries = new Map<string, AsyncEntry>();

  private constructor(private readonly service: string) {
    this.description = `the OS keyring (${process.platform === "linux" ? "Secret Service" : process.platform === "darwin" ? "Keychain" : "Credential Manager"}, service '${service}')`;
  }

  /** Opens the keyring and checks that it answers. */
  static async open(service = SERVICE): Promise<OsKeyringStore> {
    const store = new OsKeyringStore(service);
    await store.entries();
    return store;
  }

  async get(account: string): Promise<Secret | null> {
    // As bytes, never a string: the Secret can zero them (a string would linger in freed memory).
    const value = await this.#call("read", () => this.#entry(account).getSecret());
    return value === null ? null : new Secret(Uint8Array.from(value));
  }

  async set(account: string, value: Secret): Promise<void> {
    await this.#call("write", () => this.#entry(account).setSecret(value.bytes()));
  }

  async delete(account: string): Promise<boolean> {
    return this.#call("delete", () => this.#entry(account).deleteCredential());
  }

  async entries(): Promise<Map<string, Secret>> {
    const found = await this.#call("list", () => findCredentialsAsync(this.service));
    return new Map(found.map((c) => [c.account, new Secret(c.password)]));
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
      const detail = err instanceof Error ? err.message.replace(/^Platform failure: /, "") : String(err);
      throw new CredagentError(
        "store_unavailable",
        `cannot ${what} ${this.description}: ${detail}; ${HINT[process.platform] ?? "is the OS keyring available?"}`,
        { cause: err },
      );
    }
  }
}
