import { CredagentError } from "../errors.ts";
import { formatCountdown } from "../duration.ts";
import { wipeToken, type Token } from "../sources/source.ts";
import { raceTimeout, type Clock } from "../time/clock.ts";
import { refreshAt, type RefreshPolicy } from "./policy.ts";

// The ID tokens one credential got for other audiences (by token exchange), each kept until its
// refresh time as an access token would be, fetched once for all concurrent callers, and zeroed
// when replaced, at expiry and at forget() (lock). A program asks for an audience it names, so
// the number kept is bounded: past it, the one due soonest is dropped.

const MAX_AUDIENCES = 32;
/** How long a replaced token stays readable for a response that was already writing it. */
const RETIRED_GRACE_MS = 1_000;

interface Held {
  token: Token;
  serveUntil: number;
  cancelExpiry: () => void;
}

export class AudienceTokens {
  readonly #held = new Map<string, Held>();
  readonly #pending = new Map<string, Promise<Token>>();
  readonly #aborts = new Set<AbortController>();
  // A failed exchange is answered from here for retryFloorMs: a client retrying in a loop costs the
  // provider one call per floor, as with access tokens.
  readonly #failed = new Map<string, { at: number; error: unknown }>();
  // Bumped by forget(): an exchange under way then must not bring its token back.
  #epoch = 0;

  constructor(
    private readonly name: string,
    private readonly policy: RefreshPolicy,
    private readonly deps: { clock: Clock; random: () => number },
  ) {}

  /** The ID token for audience: the one held while before its refresh time, else a new one from fetch. */
  get(audience: string, fetch: (signal: AbortSignal) => Promise<Token>): Promise<Token> {
    const held = this.#held.get(audience);
    if (held && !held.token.value.wiped && this.deps.clock.now() < held.serveUntil) return Promise.resolve(held.token);
    let pending = this.#pending.get(audience);
    const failed = this.#failed.get(audience);
    if (!pending && failed && this.deps.clock.now() - failed.at < this.policy.retryFloorMs) return Promise.reject(failed.error);
    if (!pending) {
      pending = this.#fetch(audience, fetch).finally(() => this.#pending.delete(audience));
      this.#pending.set(audience, pending);
    }
    return pending;
  }

  /** Zeroes every token held and stops the exchanges under way (lock, stop). */
  forget(): void {
    this.#epoch += 1;
    for (const abort of this.#aborts) abort.abort(new CredagentError("locked", "the agent was locked"));
    for (const audience of [...this.#held.keys()]) this.#drop(audience, true);
    this.#failed.clear();
  }

  async #fetch(audience: string, fetch: (signal: AbortSignal) => Promise<Token>): Promise<Token> {
    const epoch = this.#epoch;
    const abort = new AbortController();
    this.#aborts.add(abort);
    const timedOut = () =>
      new CredagentError(
        "source_failed",
        `credential '${this.name}': the identity provider did not give an ID token within ${formatCountdown(this.policy.fetchTimeoutMs)}`,
      );
    try {
      const token = await raceTimeout(fetch(abort.signal), this.policy.fetchTimeoutMs, timedOut, this.deps.clock);
      if (epoch !== this.#epoch) {
        wipeToken(token);
        throw new CredagentError("locked", "the agent was locked while the ID token was fetched");
      }
      const now = this.deps.clock.now();
      if (token.expiresAt <= now)
        throw new CredagentError("source_failed", "the identity provider gave an ID token that has already expired");
      this.#keep(audience, token, now);
      this.#failed.delete(audience);
      return token;
    } catch (err) {
      if (epoch === this.#epoch) {
        if (this.#failed.size >= MAX_AUDIENCES) this.#failed.clear();
        this.#failed.set(audience, { at: this.deps.clock.now(), error: err });
      }
      throw err;
    } finally {
      this.#aborts.delete(abort);
      abort.abort();
    }
  }

  #keep(audience: string, token: Token, now: number): void {
    this.#drop(audience, false);
    if (this.#held.size >= MAX_AUDIENCES) {
      const soonest = [...this.#held.entries()].sort((a, b) => a[1].serveUntil - b[1].serveUntil)[0]!;
      this.#drop(soonest[0], false);
    }
    const cancelExpiry = this.deps.clock.setTimeout(() => this.#drop(audience, true), Math.max(0, token.expiresAt - now));
    this.#held.set(audience, { token, serveUntil: refreshAt(token, this.policy, this.deps.random), cancelExpiry });
  }

  /** Forgets audience's token: zeroed now, or after a moment (a response may be writing it). */
  #drop(audience: string, now: boolean): void {
    const held = this.#held.get(audience);
    if (!held) return;
    this.#held.delete(audience);
    held.cancelExpiry();
    if (now) wipeToken(held.token);
    else this.deps.clock.setTimeout(() => wipeToken(held.token), RETIRED_GRACE_MS);
  }
}
