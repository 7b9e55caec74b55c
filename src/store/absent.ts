import type { SecretStore } from "./store.ts";

/**
 * What to add when a credential's entry is not in the store in use: where it is instead, and the
 * command that moves it, or else `orElse` (how to set it). Secrets set while the other store was in use (before
 * a keyring existed, or from a shell without one) are found, not reported as missing.
 */
export async function absentAdvice(store: SecretStore, account: string, name: string, orElse: string): Promise<string> {
  const other = await store.elsewhere?.(account).catch(() => null);
  if (other) return `; ${other} holds it: move it to the store in use with: credagent secret move ${name} --to ${store.backend}`;
  return `${store.absentHint ? ` (${store.absentHint})` : ""}; ${orElse}`;
}
