import { CredagentError } from "../errors.ts";
import type { Secret } from "../secret.ts";

export interface LockDeps {
  /** A slow, salted hash (argon2id); only the hash of the lock passphrase is kept. */
  hash(passphrase: string): Promise<string>;
  verify(passphrase: string, hash: string): Promise<boolean>;
  sleep(ms: number): Promise<void>;
  /** Drops every token and secret from memory. */
  onLock(): void;
  /** Reloads what the store has (cached tokens). */
  onUnlock(): Promise<void>;
}

const BACKOFF_STEP_MS = 100;
const BACKOFF_MAX_MS = 10_000;

/** `credagent lock` / `unlock`, as ssh-add -x / -X. */
export class AgentLock {
  #hash: string | undefined;
  #failures = 0;
  #busy: Promise<unknown> = Promise.resolve();

  constructor(private readonly deps: LockDeps) {}

  get locked(): boolean {
    return this.#hash !== undefined;
  }

  async lock(passphrase: Secret): Promise<void> {
    if (this.locked) throw new CredagentError("locked", "the agent is already locked; 'credagent unlock' unlocks it");
    if (passphrase.reveal() === "") throw new CredagentError("bad_request", "the lock passphrase must not be empty");
    const hash = await this.deps.hash(passphrase.reveal());
    if (this.locked) throw new CredagentError("locked", "the agent is already locked; 'credagent unlock' unlocks it");
    this.#hash = hash;
    this.#failures = 0;
    this.deps.onLock();
  }

  /** Attempts are taken one at a time, each failure adding 0.1 s (up to 10 s) before the next is checked. */
  unlock(passphrase: Secret): Promise<void> {
    const attempt = this.#busy.then(() => this.#unlock(passphrase));
    this.#busy = attempt.catch(() => {});
    return attempt;
  }

  async #unlock(passphrase: Secret): Promise<void> {
    if (!this.#hash) throw new CredagentError("bad_request", "the agent is not locked");
    if (this.#failures > 0) await this.deps.sleep(Math.min(this.#failures * BACKOFF_STEP_MS, BACKOFF_MAX_MS));
    if (!(await this.deps.verify(passphrase.reveal(), this.#hash))) {
      this.#failures += 1;
      throw new CredagentError("forbidden", "wrong passphrase; the agent stays locked");
    }
    this.#hash = undefined;
    this.#failures = 0;
    await this.deps.onUnlock();
  }
}
