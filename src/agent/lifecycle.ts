import type { Logger } from "../log/log.ts";

// The agent's life after start: signals, reload, an optional lifetime, and an orderly shutdown.
// run.ts builds the parts in dependency order; this module only says when each is stopped.

/** How long open connections and sessions get to finish at shutdown. */
export const SHUTDOWN_GRACE_MS = 5_000;

export interface Lifecycle {
  log: Logger;
  /** SIGHUP: the same as `credagent reload` (which logs its outcome either way). */
  reload(): void;
  /** Ends the agent after this long (`agent --lifetime`), if set. */
  lifetimeMs?: number;
  /** Stops taking connections, first of all. */
  stopAccepting(): void;
  /** What may take up to the grace to finish (requests, database sessions), in parallel. */
  drain: Array<(graceMs: number) => Promise<void>>;
  /** Then everything started is released (run.ts: its stack of resources, in reverse). */
  release: () => Promise<void>;
  /** Given the function that stops the agent as SIGTERM does (for POST /v1/shutdown). */
  onStopper?: (stop: (reason: string) => void) => void;
}

/** Runs until SIGTERM, SIGINT or the lifetime; resolves with the exit code once all is stopped. */
export function serveUntilStopped(life: Lifecycle): Promise<number> {
  return new Promise<number>((resolve) => {
    let stopping = false;
    const shutdown = async (reason: string) => {
      if (stopping) return;
      stopping = true;
      life.log.info("agent stopping", { reason });
      life.stopAccepting();
      await Promise.all(life.drain.map((drain) => drain(SHUTDOWN_GRACE_MS)));
      await life.release();
      life.log.info("agent stopped");
      resolve(0);
    };
    life.onStopper?.((reason) => void shutdown(reason));
    process.on("SIGTERM", () => void shutdown("SIGTERM"));
    process.on("SIGINT", () => void shutdown("SIGINT"));
    process.on("SIGHUP", () => {
      try {
        life.reload();
      } catch {
        // Logged by the reloader; the previous config stays in force.
      }
    });
    if (life.lifetimeMs) setTimeout(() => void shutdown("lifetime reached"), life.lifetimeMs).unref();
  });
}
