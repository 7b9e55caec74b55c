import { createHmac, randomBytes } from "node:crypto";
import type { Secret } from "../secret.ts";

// Passwords a database server refused (28P01), by endpoint. A server that checks passwords against
// a directory (pg_hba ldap, Active Directory behind it) locks the account after a few wrong ones;
// an app reconnecting in a loop through the proxy must not get it there. So a refused password is
// not sent again until the credential gives another or HOLD_MS has passed; only a keyed digest of
// it is kept (the key is this process's, made at random), never the password.

const HOLD_MS = 10 * 60_000;

export class RefusedPasswords {
  readonly #key = randomBytes(32);
  readonly #refused = new Map<string, { digest: Buffer; until: number }>();

  constructor(private readonly now: () => number = Date.now) {}

  #digest(password: Secret): Buffer {
    return createHmac("sha256", this.#key).update(password.bytes()).digest();
  }

  remember(endpoint: string, password: Secret): void {
    this.#refused.set(endpoint, { digest: this.#digest(password), until: this.now() + HOLD_MS });
  }

  /** Whether this password was refused at this endpoint lately. */
  refused(endpoint: string, password: Secret): boolean {
    const entry = this.#refused.get(endpoint);
    if (!entry) return false;
    if (this.now() >= entry.until) {
      this.#refused.delete(endpoint);
      return false;
    }
    return entry.digest.equals(this.#digest(password));
  }

  /** The minutes a refusal holds, for messages. */
  static readonly holdMinutes = HOLD_MS / 60_000;
}
