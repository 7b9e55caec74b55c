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
}

export const DEFAULT_POLICY: RefreshPolicy = {
  jitterRatio: 0.1,
  backoffBaseMs: 1_000,
  backoffMaxMs: 120_000,
  fetchTimeoutMs: 30_000,
  requestWaitMs: 30_000,
};

const DEFAULT_REFRESH_SHARE = 0.8;

export function refreshAt(
  token: { obtainedAt: number; expiresAt: number },
  policy: RefreshPolicy,
  random: () => number,
): number {
  const lifetime = token.expiresAt - token.obtainedAt;
  if (lifetime <= 0) return token.obtainedAt;
  const margin =
    policy.refreshBeforeMs === undefined
      ? lifetime * (1 - DEFAULT_REFRESH_SHARE)
      : Math.min(policy.refreshBeforeMs, lifetime / 2);
  const jitter = random() * lifetime * policy.jitterRatio;
  return Math.round(token.expiresAt - margin - jitter);
}

/** Delay before retry number `failures` (1-based): exponential, capped, +-20% jitter. */
export function backoffDelay(failures: number, policy: RefreshPolicy, random: () => number): number {
  const exp = policy.backoffBaseMs * 2 ** Math.min(Math.max(failures - 1, 0), 30);
  const capped = Math.min(exp, policy.backoffMaxMs);
  return Math.round(capped * (0.8 + 0.4 * random()));
}
