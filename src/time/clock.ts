// The one time toolkit: a Clock is passed in so that whatever waits or decides on time can be
// tested with a fake one (STYLE rule 4; test/support/fake-clock.ts), and the waits are written once
// here: raceTimeout (work or an error at a deadline), within (work or TIMED_OUT: a grace wait),
// pollUntil (ask until an answer or a deadline), sleep.
export interface Clock {
  now(): number;
  /** Runs fn after ms; returns a function that cancels it. */
  setTimeout(fn: () => void, ms: number): () => void;
}

// setTimeout overflows past 2^31-1 ms (~24.8 days) and fires at once; a long wait is taken in
// steps, each re-checking the clock, so a year-long token is never refreshed by accident.
const MAX_TIMER_MS = 2_147_483_000;

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout(fn, ms) {
    let timer: ReturnType<typeof setTimeout>;
    const due = Date.now() + ms;
    const arm = (wait: number) => {
      timer = setTimeout(
        () => {
          const left = due - Date.now();
          if (left > 0) arm(left);
          else fn();
        },
        Math.max(0, Math.min(wait, MAX_TIMER_MS)),
      );
      // Timers never keep the agent alive on their own: the listening socket does.
      (timer as { unref?: () => void }).unref?.();
    };
    arm(ms);
    return () => clearTimeout(timer);
  },
};

/** The system clock whose timers keep the process alive: for a CLI command that waits on nothing else. */
export const foregroundClock: Clock = {
  now: () => Date.now(),
  setTimeout(fn, ms) {
    const timer = setTimeout(fn, Math.max(0, Math.min(ms, MAX_TIMER_MS)));
    return () => clearTimeout(timer);
  },
};

/**
 * The one "race against a timeout": what `work` settles to, or a rejection with onTimeout()
 * after ms on this clock (injected: tests pass a fake one); the timer is cancelled either way.
 */
export async function raceTimeout<T>(work: Promise<T>, ms: number, onTimeout: () => Error, clock: Clock = systemClock): Promise<T> {
  let cancel: (() => void) | undefined;
  const timedOut = new Promise<never>((_, reject) => {
    cancel = clock.setTimeout(() => reject(onTimeout()), ms);
  });
  try {
    return await Promise.race([work, timedOut]);
  } finally {
    cancel?.();
  }
}

/** Resolves after ms on this clock. */
export function sleep(ms: number, clock: Clock = systemClock): Promise<void> {
  return new Promise((resolve) => clock.setTimeout(resolve, ms));
}

/** What `within` gives when the time ran out first. */
export const TIMED_OUT: unique symbol = Symbol("timed out");

/**
 * A grace wait: what `work` settles to, or TIMED_OUT when it takes longer than ms on this clock
 * (the work goes on; a rejection still rejects). The timer is cancelled either way.
 */
export async function within<T>(work: Promise<T>, ms: number, clock: Clock = systemClock): Promise<T | typeof TIMED_OUT> {
  let cancel: (() => void) | undefined;
  const timedOut = new Promise<typeof TIMED_OUT>((resolve) => {
    cancel = clock.setTimeout(() => resolve(TIMED_OUT), ms);
  });
  try {
    return await Promise.race([work, timedOut]);
  } finally {
    cancel?.();
  }
}

/**
 * Asks `check` every intervalMs until it gives a value (not null/undefined) or timeoutMs passed on
 * this clock; null then. The check runs at least once, and once more at the deadline.
 */
export async function pollUntil<T>(
  check: () => T | null | undefined | Promise<T | null | undefined>,
  options: { timeoutMs: number; intervalMs: number; clock?: Clock },
): Promise<T | null> {
  const clock = options.clock ?? systemClock;
  const deadline = clock.now() + options.timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== null && value !== undefined) return value;
    const left = deadline - clock.now();
    if (left <= 0) return null;
    await sleep(Math.min(options.intervalMs, left), clock);
  }
}
