import { CredagentError, describe } from "../errors.ts";
import { formatCountdown, formatDuration } from "../duration.ts";
import {
  canExchangeIdTokens,
  cannotHeal,
  isInteractive,
  wipeToken,
  type LoginChallenge,
  type Token,
  type TokenSource,
} from "../sources/source.ts";
import { jwtAudiences } from "../sources/token-output.ts";
import { AudienceTokens } from "./id-tokens.ts";
import type { CredentialState } from "../wire/types.ts";
import { raceTimeout, type Clock } from "../time/clock.ts";
import { DeviceLogin, type LoginStatus } from "./device-login.ts";
import { backoffDelay, idleAfter, refreshAt, sdkWindow, shortLivedNote, type RefreshPolicy } from "./policy.ts";

export interface CredentialDeps {
  clock: Clock;
  random: () => number;
  onEvent?: (event: CredentialEvent) => void;
}

export type CredentialEvent =
  | { kind: "fetched"; name: string; token: Token; refreshAt: number; persist: boolean }
  | { kind: "fetch_failed"; name: string; error: string; retryAt: number | null }
  /** A cached token was restored from the store (no fetch): what it fills is written again. */
  | { kind: "restored"; name: string }
  /** No request for a long while: no longer refreshed until the next one. */
  | { kind: "idle"; name: string; lastAskedAt: number };

export interface CredentialSnapshot {
  state: CredentialState;
  expiresAt: number | null;
  refreshAt: number | null;
  /** A renewable ticket's renewal limit (kerberos), else null. */
  renewUntil: number | null;
  lastError: string | null;
  /** Something about its tokens worth knowing (AWS keys shorter-lived than the SDKs' refresh window). */
  note: string | null;
}

/** How long a replaced token stays readable for responses that were already writing it. */
const RETIRED_TOKEN_GRACE_MS = 1_000;

/**
 * One credential's token, kept fresh: served from memory while valid, refreshed ahead of expiry,
 * fetched once for all concurrent callers, backed off on failure while the last valid token is
 * still served. Knows nothing of sockets or processes; the clock is injected.
 */
export class ManagedCredential {
  #token: Token | undefined;
  #cancelExpiry: (() => void) | undefined;
  #pending: Promise<Token> | undefined;
  #failures = 0;
  #lastError: string | undefined;
  #retryAt: number | undefined;
  // When the last fetch failed: a request within retryFloorMs of it fails fast.
  #failedAt: number | undefined;
  #refreshAt: number | undefined;
  #cancelTimer: (() => void) | undefined;
  #abort: AbortController | undefined;
  // Background refresh only runs for a credential somebody has asked for: an unused one costs
  // the identity provider nothing.
  #inUse = false;
  // The last request (or prefetch, or restored token): a credential nobody asked for in a long
  // while goes idle, which stops its background refresh until the next request.
  #lastAskedAt: number | undefined;
  #idle = false;
  #lifetimeMs: number | undefined;
  #stopped = false;
  // Bumped by forget(): a fetch that was under way then must not bring its token back.
  #epoch = 0;
  /** When the last fetch started, and what it brought: a bounded forced refresh may answer with it. */
  #lastFetch: { startedAt: number; ok: boolean; token: Token | undefined } | undefined;
  /** A forced refresh waiting for the next slot after a failed fetch; shared. */
  #spacedFetch: Promise<Token> | undefined;
  /** The forced refreshes' bucket: slots left (fractions refill), and when it was last counted. */
  #forcedSlots = 0;
  #forcedSlotsAt: number | undefined;
  // The source said only a person can fix this (a refresh token revoked or expired): no retries
  // until `credagent login`, and requests fail at once instead of waiting on a doomed fetch.
  #loginRequired = false;
  readonly #login = new DeviceLogin();
  readonly #audiences: AudienceTokens;
  // A cached token being read from the store (at start): a request waits for it instead of
  // fetching one the cache may hold. Set until the read settles (it is bounded in time).
  #restoring: Promise<unknown> | undefined;

  constructor(
    readonly name: string,
    readonly source: TokenSource,
    readonly policy: RefreshPolicy,
    private readonly deps: CredentialDeps,
  ) {
    this.#audiences = new AudienceTokens(name, policy, deps);
  }

  /**
   * An OpenID Connect ID token for audience: the id_token that came with the access token when it
   * names that audience (an oauth2 credential with scope "openid": its client id), else one the
   * provider issues for it by token exchange (RFC 8693), kept per audience. Refused (bad_request,
   * saying why) where neither can be had.
   */
  async idToken(audience: string): Promise<Token> {
    const token = await this.get();
    if (token.idToken && !token.idToken.wiped && jwtAudiences(token.idToken.bytes()).includes(audience)) {
      return { value: token.idToken, tokenType: "Bearer", obtainedAt: token.obtainedAt, expiresAt: token.expiresAt };
    }
    const source = this.source;
    if (!canExchangeIdTokens(source)) {
      throw new CredagentError(
        "bad_request",
        `credential '${this.name}' cannot give ID tokens: its source is ${source.kind}, and only an oauth2 credential's identity provider issues them`,
      );
    }
    return this.#audiences.get(audience, (signal) => source.exchangeIdToken({ signal, now: this.deps.clock.now() }, token, audience));
  }

  /**
   * A token valid for at least minValidMs, from memory when one is. An AWS key inside the SDKs'
   * refresh window is not served: the request gets the next one (see sdkWindow).
   */
  async get(minValidMs = 0): Promise<Token> {
    if (this.#restoring) await this.#restoring;
    const now = this.deps.clock.now();
    this.#asked(now);
    const held = this.#token;
    if (held && held.expiresAt - now > Math.max(minValidMs, sdkWindow(held, this.policy))) return held;
    if (this.#loginRequired && !this.#pending) {
      throw new CredagentError("login_required", this.#lastError ?? `sign in with: credagent login ${this.name}`);
    }
    if (!this.#pending && this.#failingFast(now)) throw this.#unavailable(this.#backoffNote(now));
    const token = await this.#waitBounded(this.#fetchOnce());
    const left = token.expiresAt - this.deps.clock.now();
    if (left <= minValidMs) {
      throw new CredagentError(
        "unavailable",
        `credential '${this.name}': its source issued a token valid for ${formatCountdown(left)}, ` +
          `less than the ${formatCountdown(minValidMs)} asked for; ask for a shorter min_valid`,
      );
    }
    return token;
  }

  /**
   * A new token, asked for by a client (`credagent refresh`, POST …/refresh). Forced refreshes are
   * coalesced and bounded, so that a client in a loop cannot run the source as fast as it answers
   * (791 runs in 10 s before, issue 21): one under way is joined; past policy.forcedRefreshBurst
   * in a row, one runs per policy.forcedRefreshIntervalMs. Meanwhile the token the last fetch
   * brought is the answer (it is as new as another would be); after a failure the next fetch
   * waits for the next slot, one fetch for every refresh that came meanwhile.
   * A failure says why, and whether the token held is still served (and for how long): the one
   * asking has just run `credagent refresh`, so it is not told to run it.
   */
  async refresh(): Promise<Token> {
    const now = this.deps.clock.now();
    this.#asked(now);
    if (this.#pending) return this.#waitBounded(this.#pending, this.#refreshFailure);
    if (this.#takeForcedSlot(now)) return this.#waitBounded(this.#fetchOnce(), this.#refreshFailure);
    const last = this.#lastFetch;
    const held = this.#token;
    if (last?.ok && held && held === last.token && held.expiresAt > now && !held.value.wiped) return held;
    this.#spacedFetch ??= new Promise<Token>((resolve, reject) => {
      const interval = this.policy.forcedRefreshIntervalMs;
      this.deps.clock.setTimeout(
        () => {
          this.#spacedFetch = undefined;
          // A fetch of its own since the wait began (the backoff's retry) is as good as a new one.
          const since = this.#lastFetch;
          const token = this.#token;
          if (since && since.startedAt >= now && since.ok && token === since.token && token && !token.value.wiped) return resolve(token);
          this.#takeForcedSlot(this.deps.clock.now());
          (this.#pending ?? this.#fetchOnce()).then(resolve, reject);
        },
        Math.ceil((1 - this.#forcedSlots) * interval),
      );
    });
    return this.#waitBounded(this.#spacedFetch, this.#refreshFailure);
  }

  /** A forced refresh's failure while a valid token is held: how long it stays valid, why, when the agent retries. */
  readonly #refreshFailure = (now: number, err: unknown): { message: string } | undefined => {
    const held = this.current();
    if (!held) return undefined;
    // Still waiting for the source (the fetch goes on), or its failure.
    const why = this.#pending ? describe(err) : (this.#lastError ?? describe(err));
    const retry = this.#retryAt === undefined ? "" : `; the agent retries in ${formatCountdown(Math.max(0, this.#retryAt - now))}`;
    return {
      message:
        `the refresh of '${this.name}' failed: ${why}; ` +
        `the token it holds is still valid for ${formatCountdown(held.expiresAt - now)} and is served until then${retry}`,
    };
  };

  /** A slot of the forced refreshes' bucket, refilled by the clock; false when none is left. */
  #takeForcedSlot(now: number): boolean {
    const { forcedRefreshBurst: burst, forcedRefreshIntervalMs: interval } = this.policy;
    const elapsed = this.#forcedSlotsAt === undefined ? Infinity : now - this.#forcedSlotsAt;
    this.#forcedSlots = Math.min(burst, this.#forcedSlots + elapsed / interval);
    this.#forcedSlotsAt = now;
    if (this.#forcedSlots < 1) return false;
    this.#forcedSlots -= 1;
    return true;
  }

  /**
   * Fetches a new token now, whatever the one held, without the bound of refresh(): for the
   * agent's own reasons (a stored secret the source reads was changed). Joins a fetch under way.
   */
  async refetch(): Promise<Token> {
    this.#asked(this.deps.clock.now());
    return this.#waitBounded(this.#fetchOnce());
  }

  /** Starts keeping the token fresh at once (config `prefetch`). */
  prefetch(): void {
    this.#asked(this.deps.clock.now());
    this.#fetchOnce().catch(() => {});
  }

  /** Seeds a token obtained elsewhere (a cache), scheduling its refresh. */
  seed(token: Token): void {
    if (token.expiresAt <= this.deps.clock.now()) return;
    // A restarted agent does not know when it was last asked: it counts from now.
    this.#lastAskedAt ??= this.deps.clock.now();
    this.#lifetimeMs = token.expiresAt - token.obtainedAt;
    this.#hold(token);
    this.#schedule(refreshAt(token, this.policy, this.deps.random));
  }

  /**
   * A cached token is on its way (read from the store while the agent already serves): until
   * `reading` settles, requests wait for it rather than fetch. What it brings is held unless the
   * credential was forgotten (a lock) or stopped meanwhile, or got a token of its own (a refresh);
   * then it is zeroed. Resolves to whether it was held.
   */
  restore(reading: Promise<Token | null>): Promise<boolean> {
    const epoch = this.#epoch;
    const restored = reading.then(
      (token) => {
        if (!token) return false;
        if (epoch !== this.#epoch || this.#stopped || this.current() || token.expiresAt <= this.deps.clock.now()) {
          wipeToken(token);
          return false;
        }
        this.seed(token);
        this.deps.onEvent?.({ kind: "restored", name: this.name });
        return true;
      },
      () => false,
    );
    this.#restoring = restored;
    void restored.then(() => {
      if (this.#restoring === restored) this.#restoring = undefined;
    });
    return restored;
  }

  /** The valid token held, if any, without counting as a request (for files the agent keeps fresh). */
  current(): Token | undefined {
    const held = this.#token;
    return held && held.expiresAt > this.deps.clock.now() && !held.value.wiped ? held : undefined;
  }

  snapshot(): CredentialSnapshot {
    const now = this.deps.clock.now();
    const valid = this.#token && this.#token.expiresAt > now ? this.#token : undefined;
    let state: CredentialState;
    if (this.#pending) state = "refreshing";
    else if (this.#loginRequired) state = "login_required";
    else if (this.#idle) state = "idle";
    else if (valid) state = this.#lastError ? "stale" : "fresh";
    else if (this.#lastError) state = "failing";
    else state = "not_loaded";
    return {
      state,
      expiresAt: valid?.expiresAt ?? null,
      refreshAt: valid ? (this.#refreshAt ?? null) : null,
      renewUntil: valid?.kerberos?.renewUntil ?? null,
      lastError: this.#lastError ?? null,
      note: (this.#token && shortLivedNote(this.#token, this.policy, formatCountdown)) ?? null,
    };
  }

  /** Drops the token and every trace of past fetches (the agent is being locked). */
  forget(): void {
    this.#epoch += 1;
    this.#audiences.forget();
    this.#login.cancel(new CredagentError("locked", "the agent was locked"), true);
    this.#loginRequired = false;
    this.#cancelTimer?.();
    this.#cancelTimer = undefined;
    this.#abort?.abort(new CredagentError("locked", "the agent was locked"));
    // Zeroed now, not retired: a response still being written gets 423 rather than the token.
    if (this.#token) wipeToken(this.#token);
    this.#hold(undefined);
    this.source.discard?.();
    this.#failures = 0;
    this.#lastError = undefined;
    this.#retryAt = undefined;
    this.#failedAt = undefined;
    this.#refreshAt = undefined;
    this.#inUse = false;
    this.#idle = false;
    this.#lastAskedAt = undefined;
    this.#lifetimeMs = undefined;
  }

  /**
   * Tries again at once after a failure, for a cause the agent cannot see heal (a secret set, the
   * config reloaded): the backoff is forgotten, and the fetch happens now when the credential is
   * in use, else at the next request. False when there was no failure to retry.
   */
  retry(): boolean {
    if (this.#stopped || this.#loginRequired || this.#lastError === undefined) return false;
    if (this.#pending) {
      // The fetch under way may have started before the change: if it fails, once more after it.
      void this.#pending.catch(() => {}).then(() => this.retry());
      return true;
    }
    this.#failures = 0;
    this.#failedAt = undefined;
    this.#retryAt = undefined;
    if (this.#inUse) this.#fetchOnce().catch(() => {});
    return true;
  }

  stop(): void {
    this.#stopped = true;
    this.#audiences.forget();
    this.#login.cancel(new CredagentError("unavailable", "the agent is stopping"), false);
    this.#cancelTimer?.();
    this.#abort?.abort(new CredagentError("unavailable", "the agent is stopping"));
    this.#hold(undefined);
    this.source.discard?.();
  }

  #fetchOnce(): Promise<Token> {
    if (this.#stopped) return Promise.reject(new CredagentError("unavailable", "the agent is stopping"));
    this.#pending ??= this.#fetch().finally(() => {
      this.#pending = undefined;
    });
    return this.#pending;
  }

  async #fetch(): Promise<Token> {
    this.#cancelTimer?.();
    const { clock } = this.deps;
    const attempt: { startedAt: number; ok: boolean; token: Token | undefined } = { startedAt: clock.now(), ok: false, token: undefined };
    this.#lastFetch = attempt;
    const abort = new AbortController();
    this.#abort = abort;
    const epoch = this.#epoch;
    const cancelTimeout = clock.setTimeout(
      () =>
        abort.abort(
          new CredagentError(
            "source_failed",
            `the ${this.source.kind} source did not answer within ${formatDuration(this.policy.fetchTimeoutMs)}`,
          ),
        ),
      this.policy.fetchTimeoutMs,
    );
    try {
      const token = await raceAbort(this.source.fetchToken({ signal: abort.signal, now: clock.now() }), abort.signal);
      if (token.expiresAt <= clock.now()) {
        throw new CredagentError("source_failed", "the source returned a token that has already expired");
      }
      if (epoch !== this.#epoch) throw new CredagentError("locked", "the agent was locked while the token was fetched");
      this.#accept(token);
      attempt.ok = true;
      attempt.token = token;
      return token;
    } catch (err) {
      if (epoch !== this.#epoch) throw err;
      this.#failures += 1;
      const now = clock.now();
      this.#failedAt = now;
      const permanent = cannotHeal(err);
      this.#lastError = permanent
        ? `${describe(err)} (not retried on its own: a request, 'credagent refresh ${this.name}', a changed secret or a reload tries again)`
        : describe(err);
      let retryAt: number | null = null;
      if (err instanceof CredagentError && err.code === "login_required") {
        this.#loginRequired = true;
        this.#retryAt = undefined;
        this.#cancelTimer?.();
      } else if (permanent) {
        this.#retryAt = undefined;
        this.#refreshAt = undefined;
        this.#cancelTimer?.();
      } else if (!this.#stopped) {
        retryAt = now + backoffDelay(this.#failures, this.policy, this.deps.random);
        this.#retryAt = retryAt;
        if (this.#inUse) this.#schedule(retryAt);
      }
      this.deps.onEvent?.({ kind: "fetch_failed", name: this.name, error: this.#lastError, retryAt });
      throw err;
    } finally {
      cancelTimeout();
      if (this.#abort === abort) this.#abort = undefined;
    }
  }

  #accept(token: Token): void {
    this.#hold(token);
    this.#lifetimeMs = token.expiresAt - token.obtainedAt;
    this.#failures = 0;
    this.#lastError = undefined;
    this.#retryAt = undefined;
    this.#failedAt = undefined;
    this.#loginRequired = false;
    const at = refreshAt(token, this.policy, this.deps.random);
    this.#schedule(at);
    this.deps.onEvent?.({ kind: "fetched", name: this.name, token, refreshAt: at, persist: this.source.persist !== false });
  }

  /**
   * Holds token (or nothing) in place of the one held. The one replaced is zeroed a moment later
   * (a response may be writing it out); a held token is zeroed when it expires.
   */
  #hold(token: Token | undefined): void {
    const previous = this.#token;
    this.#token = token;
    this.#cancelExpiry?.();
    this.#cancelExpiry = undefined;
    if (previous && previous !== token && !previous.value.wiped) {
      this.deps.clock.setTimeout(() => wipeToken(previous), RETIRED_TOKEN_GRACE_MS);
    }
    if (token) {
      this.#cancelExpiry = this.deps.clock.setTimeout(
        () => {
          if (this.#token === token) this.#hold(undefined);
        },
        Math.max(0, token.expiresAt - this.deps.clock.now()),
      );
    }
  }

  /** Starts an interactive sign-in (device_code); the token it brings is taken as a fetch's. */
  async login(): Promise<Omit<LoginChallenge, "completion">> {
    const source = this.source;
    if (!isInteractive(source)) {
      throw new CredagentError(
        "bad_request",
        `credential '${this.name}' does not sign in interactively (its source is ${source.kind} without device_code)`,
      );
    }
    const epoch = this.#epoch;
    const info = await this.#login.start(
      source,
      () => this.deps.clock.now(),
      (token) => this.#accept(token),
      () => epoch === this.#epoch,
    );
    this.#asked(this.deps.clock.now());
    return info;
  }

  loginStatus(): LoginStatus {
    return this.#login.status();
  }

  #schedule(at: number): void {
    this.#cancelTimer?.();
    if (this.#stopped) return;
    this.#refreshAt = at;
    const delay = Math.max(0, at - this.deps.clock.now());
    this.#cancelTimer = this.deps.clock.setTimeout(() => {
      this.#cancelTimer = undefined;
      if (this.#unaskedSince(this.deps.clock.now())) this.#goIdle();
      else this.#fetchOnce().catch(() => {});
    }, delay);
  }

  /** Somebody asked: the credential is in use, and wakes from idle with the refresh it skipped. */
  #asked(now: number): void {
    this.#lastAskedAt = now;
    this.#inUse = true;
    if (!this.#idle) return;
    this.#idle = false;
    // A token still held is served, and renewed in the background as it would have been; with
    // none, the request that woke it fetches.
    const held = this.#token;
    if (held && held.expiresAt > now && !this.#loginRequired) this.#schedule(now);
  }

  #unaskedSince(now: number): boolean {
    return this.#lastAskedAt !== undefined && now - this.#lastAskedAt >= idleAfter(this.policy, this.#lifetimeMs);
  }

  #goIdle(): void {
    this.#idle = true;
    this.#inUse = false;
    this.#refreshAt = undefined;
    this.deps.onEvent?.({ kind: "idle", name: this.name, lastAskedAt: this.#lastAskedAt ?? this.deps.clock.now() });
  }

  /**
   * Whether a request after a failure fails at once rather than fetch: only within retryFloorMs of
   * the failure and before the backoff slot. Past the floor the source may well be back, and one
   * fetch per request every few seconds is no hammering.
   */
  #failingFast(now: number): boolean {
    if (this.#failedAt === undefined || now - this.#failedAt >= this.policy.retryFloorMs) return false;
    return this.#retryAt === undefined || now < this.#retryAt;
  }

  /**
   * `forRefresh`: a forced refresh's own wording of a failure (or undefined: the usual one, without
   * the advice to run `credagent refresh`, which is what failed).
   */
  async #waitBounded(
    fetching: Promise<Token>,
    forRefresh?: (now: number, err: unknown) => { message: string } | undefined,
  ): Promise<Token> {
    const waited = () =>
      new CredagentError(
        "unavailable",
        `credential '${this.name}': still waiting for its source after ${formatCountdown(this.policy.requestWaitMs)}; try again shortly`,
      );
    try {
      return await raceTimeout(fetching, this.policy.requestWaitMs, waited, this.deps.clock);
    } catch (err) {
      if (err instanceof CredagentError && err.code === "login_required") throw err;
      const now = this.deps.clock.now();
      if (forRefresh) {
        const held = forRefresh(now, err);
        if (held) throw new CredagentError("unavailable", held.message, { cause: err });
        if (err instanceof CredagentError && err.code === "unavailable") throw err;
        const retry = this.#retryAt === undefined ? undefined : `the agent retries in ${formatCountdown(Math.max(0, this.#retryAt - now))}`;
        throw this.#unavailable(retry, err);
      }
      if (err instanceof CredagentError && err.code === "unavailable") throw err;
      throw this.#unavailable(this.#backoffNote(now), err);
    }
  }

  /** When the background retry comes, and how not to wait for it (a lasting failure says so in its error). */
  #backoffNote(now: number): string | undefined {
    if (this.#retryAt === undefined) return undefined;
    return `retrying in ${formatCountdown(Math.max(0, this.#retryAt - now))}; 'credagent refresh ${this.name}' tries at once`;
  }

  #unavailable(extra?: string, cause?: unknown): CredagentError {
    const reason = this.#lastError ?? describe(cause);
    return new CredagentError("unavailable", `credential '${this.name}' has no valid token: ${reason}${extra ? ` (${extra})` : ""}`, {
      cause,
    });
  }
}

function raceAbort<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    work.then(
      (v) => {
        signal.removeEventListener("abort", onAbort);
        resolve(v);
      },
      (e) => {
        signal.removeEventListener("abort", onAbort);
        reject(e);
      },
    );
  });
}
