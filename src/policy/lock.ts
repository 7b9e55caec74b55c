import { CredagentError } from "../errors.ts";
import type { Secret } from "../secret.ts";

export interface LockDeps {
  /** A slow, salted hash (argon2id); only the hash of the lock passphrase is kept. */
  hash(passphrase: Uint8Array): Promise<string>;
  verify(passphrase: Uint8Array, hash: string): Promise<boolean>;
  now(): number;
  /** Drops every token and secret from memory. */
  onLock(): void;
  /** Reloads what the store has (cached tokens). */
  onUnlock(): Promise<void>;
}

const BACKOFF_STEP_MS = 100;
const BACKOFF_MAX_MS = 10_000;
/** What a refused attempt is told to wait while another one is being checked (a hash takes ~50 ms). */
const CHECKING_RETRY_MS = 250;

/**
 * `credagent lock` / `unlock`, as ssh-add -x / -X. Unlock attempts are checked one at a time
 * without a queue: an attempt arriving while another is being checked, or before the backoff of
 * the last failure (0.1 s a failure, up to 10 s) has passed, is refused at once with
 * `too_many_attempts`. A queue let 40 concurrent wrong attempts hold the owner's right one for 98 s.
 */
export class AgentLock {
  #hash: string | undefined;
  #failures = 0;
  #checking = false;
  #notBefore = 0;

  constructor(private readonly deps: LockDeps) {}

  get locked(): boolean {
    return this.#hash !== undefined;
  }

  /** Takes the passphrase and zeroes it once hashed: only the hash is kept. */
  async lock(passphrase: Secret): Promise<void> {
    try {
      await this.#lock(passphrase);
    } finally {
      passphrase.wipe();
    }
  }

  async #lock(passphrase: Secret): Promise<void> {
    if (this.locked) throw new CredagentError("locked", "the agent is already locked; 'credagent unlock' unlocks it");
    if (passphrase.byteLength === 0) throw new CredagentError("bad_request", "the lock passphrase must not be empty");
    const hash = await this.deps.hash(passphrase.bytes());
    if (this.locked) throw new CredagentError("locked", "the agent is already locked; 'credagent unlock' unlocks it");
    this.#hash = hash;
    this.#failures = 0;
    this.#notBefore = 0;
    this.deps.onLock();
  }

  /** Takes the passphrase and zeroes it once checked. */
  async unlock(passphrase: Secret): Promise<void> {
    try {
      await this.#unlock(passphrase);
    } finally {
      passphrase.wipe();
    }
  }

  async #unlock(passphrase: Secret): Promise<void> {
    const hash = this.#hash;
    if (!hash) throw new CredagentError("bad_request", "the agent is not locked");
    if (this.#checking) throw tooMany("another unlock attempt is being checked", CHECKING_RETRY_MS);
    const wait = this.#notBefore - this.deps.now();
    if (wait > 0)
      throw tooMany(
        `after ${this.#failures} failed unlock attempt${this.#failures === 1 ? "" : "s"} the next is taken no sooner than in ${seconds(wait)}`,
        wait,
      );

    this.#checking = true;
    let right: boolean;
    try {
      right = await this.deps.verify(passphrase.bytes(), hash);
    } finally {
      this.#checking = false;
    }
    if (!right) {
      this.#failures += 1;
      this.#notBefore = this.deps.now() + Math.min(this.#failures * BACKOFF_STEP_MS, BACKOFF_MAX_MS);
      throw new CredagentError("forbidden", "wrong passphrase; the agent stays locked");
    }
    this.#hash = undefined;
    this.#failures = 0;
    this.#notBefore = 0;
    await this.deps.onUnlock();
  }
}

function tooMany(why: string, retryAfterMs: number): CredagentError {
  return new CredagentError(
    "too_many_attempts",
    `${why}; try again in ${seconds(retryAfterMs)} ('credagent unlock' waits and retries by itself)`,
    {
      retryAfterMs,
    },
  );
}

function seconds(ms: number): string {
  return `${(Math.ceil(ms / 100) / 10).toFixed(1)} s`;
}
