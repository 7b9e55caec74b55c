// Time is passed in so the refresh engine can be tested with a fake clock (STYLE rule 4).
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
