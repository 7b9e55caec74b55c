// The environment the agent is started with on Linux: glibc's malloc tunables, which the dynamic
// loader reads at exec and nothing can change later (process-hardening.ts says why). Pure: the CLI
// that starts the agent and the systemd unit take them from here without loading anything native.

/** Turns off glibc's thread cache, whose chunks M_PERTURB does not overwrite when freed. */
export const MALLOC_TUNABLE = "glibc.malloc.tcache_count=0";

/** The environment to start the agent with: the malloc tunable added (Linux), any of the user's kept. */
export function withAgentMallocTunables(env: Record<string, string>, platform: NodeJS.Platform = process.platform): Record<string, string> {
  if (platform !== "linux" || tcacheOff(env.GLIBC_TUNABLES)) return env;
  const current = env.GLIBC_TUNABLES;
  // Later settings win: appended, it holds over a tcache_count the user set.
  return { ...env, GLIBC_TUNABLES: current ? `${current}:${MALLOC_TUNABLE}` : MALLOC_TUNABLE };
}

export function tcacheOff(tunables: string | undefined): boolean {
  const settings = (tunables ?? "").split(":");
  return settings.findLast((s) => s.startsWith("glibc.malloc.tcache_count=")) === MALLOC_TUNABLE;
}
