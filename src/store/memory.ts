import { Secret } from "../secret.ts";
import type { SecretStore } from "./store.ts";

/** An in-process store for unit tests: the agent and the CLI always use the OS keyring or the file store. */
export class MemoryStore implements SecretStore {
  readonly backend = "memory" as const;
  readonly description = "the in-memory store";
  readonly #values = new Map<string, Secret>();

  // Copies in and out, as a real store: callers zero the Secrets they are given or gave.
  async get(account: string): Promise<Secret | null> {
    const value = this.#values.get(account);
    return value ? copy(value) : null;
  }
  async set(account: string, value: Secret): Promise<void> {
    this.#values.get(account)?.wipe();
    this.#values.set(account, copy(value));
  }
  async delete(account: string): Promise<boolean> {
    this.#values.get(account)?.wipe();
    return this.#values.delete(account);
  }
  async entries(): Promise<Map<string, Secret>> {
    return new Map([...this.#values].map(([account, value]) => [account, copy(value)]));
  }
}

function copy(value: Secret): Secret {
  return new Secret(value.bytes().slice());
}
