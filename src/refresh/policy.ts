// When to refresh and how long to back off. Pure functions of the token and a random number.

export interface RefreshPolicy {
  /** Refresh this long before expiry (capped at half the lifetime); default: at 80% of it. */
  refreshBeforeMs?: number;
  /** Refresh up to this share of the lifetime earlier, at random, so credentials spread out. */
  jitterRatio: number;
  backoffBaseMs: number;
  backoffMaxMs: number;
  /** A source that has not answered by then is aborted. */
  fetchTimeoutMs: number;
  /** How long a request with no valid token waits for a fetch before it gets 503. */
  requestWaitMs: number;
  /**
   * A request during a backoff fetches anyway once the last failure is this old: the source may be
   * back (an identity provider restarted) long before the backoff slot, which grows to 2 minutes.
   */
  retryFloorMs: number;
  /** Background refresh stops after this long without a request; see idleAfter(). */
  idleAfterMs: number;
  /**
   * AWS keys: renewed at the latest this long before they expire, and never served inside it. The
   * AWS SDKs refresh credentials that have less than this left (botocore: 15 minutes, the JS SDK:
   * 5), on every call while they do: a key served inside the window is asked for again at each call.
   */
  awsRefreshWindowMs: number;
  /**
   * Forced refreshes (`credagent refresh`) that run the source: this many at once, then one per
   * forcedRefreshIntervalMs (a token bucket). Beyond, a refresh gets the token the last one brought,
   * or after a failure waits for the next slot, one fetch for all that wait.
   */
  forcedRefreshBurst: number;
  forcedRefreshIntervalMs: number;
}

export const DEFAULT_POLICY: RefreshPolicy = {
  jitterRatio: 0.1,
  backoffBaseMs: 1_000,
  backoffMaxMs: 120_000,
  fetchTimeoutMs: 30_000,
  requestWaitMs: 30_000,
  // A client retrying in a loop costs the source one fetch per 5 s at most, while a person who
  // restarted the identity provider gets a token on their next try rather than within 2 minutes.
  retryFloorMs: 5_000,
  // An hour covers the pauses of a working day (a meeting, lunch) without a fetch on return; a
  // credential untouched overnight or over a weekend stops costing the identity provider calls
  // (a 5-minute token refreshed at 80% is 15 calls an hour, for nobody).
  idleAfterMs: 3_600_000,
  // botocore's advisory refresh timeout (credentials.py, RefreshableCredentials): the widest of the SDKs'.
  awsRefreshWindowMs: 15 * 60_000,
  // A person refreshing a few times in a row is never held back; a program looping on it costs
  // the source one run per 5 s after the first five, as a request in a failing loop does (retryFloorMs).
  forcedRefreshBurst: 5,
  forcedRefreshIntervalMs: 5_000,
};

const DEFAULT_REFRESH_SHARE = 0.8;

/** What the timing rules need of a token. */
export interface TokenTimes {
  obtainedAt: number;
  expiresAt: number;
  /** "aws": subject to policy.awsRefreshWindowMs. */
  kind?: string;
}

export function refreshAt(token: TokenTimes, policy: RefreshPolicy, random: () => number): number {
  const lifetime = token.expiresAt - token.obtainedAt;
  if (lifetime <= 0) return token.obtainedAt;
  const margin =
    policy.refreshBeforeMs === undefined ? lifetime * (1 - DEFAULT_REFRESH_SHARE) : Math.min(policy.refreshBeforeMs, lifetime / 2);
  const window = sdkWindow(token, policy);
  if (window > margin) {
    // The jitter goes earlier, within the time the key is served, so even a key that lives just
    // past the window is renewed before the window starts.
    return Math.round(token.expiresAt - window - random() * (lifetime - window) * policy.jitterRatio);
  }
  const jitter = random() * lifetime * policy.jitterRatio;
  return Math.round(token.expiresAt - margin - jitter);
}

/**
 * How long before its expiry a token stops being served (a request then gets a new one): the AWS
 * SDKs' refresh window for an AWS key that lives longer than it, else 0 (served to the end). A key
 * that lives no longer than the window cannot be served outside it: it is served whole, and
 * shortLivedNote() says what that costs.
 */
export function sdkWindow(token: TokenTimes, policy: RefreshPolicy): number {
  if (token.kind !== "aws" || policy.awsRefreshWindowMs <= 0) return 0;
  return token.expiresAt - token.obtainedAt > policy.awsRefreshWindowMs ? policy.awsRefreshWindowMs : 0;
}

/** Why a credential's tokens cannot be kept out of the SDKs' refresh window, for `status`; undefined when they can. */
export function shortLivedNote(token: TokenTimes, policy: RefreshPolicy, format: (ms: number) => string): string | undefined {
  if (token.kind !== "aws" || policy.awsRefreshWindowMs <= 0) return undefined;
  const lifetime = token.expiresAt - token.obtainedAt;
  if (lifetime > policy.awsRefreshWindowMs) return undefined;
  return (
    `its AWS keys live ${format(lifetime)}, no longer than the ${format(policy.awsRefreshWindowMs)} before expiry in which ` +
    "AWS SDKs refresh (aws_refresh_window): an SDK asks for a key again at every call; issue longer-lived keys, or lower aws_refresh_window"
  );
}

/** Delay before retry number `failures` (1-based): exponential, capped, +-20% jitter. */
export function backoffDelay(failures: number, policy: RefreshPolicy, random: () => number): number {
  const exp = policy.backoffBaseMs * 2 ** Math.min(Math.max(failures - 1, 0), 30);
  const capped = Math.min(exp, policy.backoffMaxMs);
  return Math.round(capped * (0.8 + 0.4 * random()));
}

/**
 * How long without a request before a credential stops being refreshed: at least two lifetimes of
 * its token, so a client that asks once per token (the usual pattern: it asks when its copy
 * expires) never finds it idle, and at least policy.idleAfterMs.
 */
export function idleAfter(policy: RefreshPolicy, lifetimeMs: number | undefined): number {
  return Math.max(policy.idleAfterMs, 2 * (lifetimeMs ?? 0));
}
