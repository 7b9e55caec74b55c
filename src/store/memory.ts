import type { Secret } from "../secret.ts";
import type { SecretStore } from "./store.ts";

/** An in-process store, for unit tests and as the agent's store when asked for none. */
export class MemoryStore implements SecretStore {
  readonly backend = "memory" as const;
  readonly description = "the in-memory store";
  readonly #values = new Map<string, Secret>();

  async get(account: string): Promise<Secret | null> {
    return this.#values.get(account) ?? null;
  }
  async set(account: string, value: Secret): Promise<void> {
    this.#values.set(account, value);
  }
  async delete(account: string): Promise<boolean> {
    return this.#values.delete(account);
  }
  async entries(): Promise<Map<string, Secret>> {
    return new Map(this.#values);
  }
}
