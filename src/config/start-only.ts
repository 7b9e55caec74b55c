import type { AgentConfig } from "./load.ts";

/**
 * Settings read once at start: the store is opened with them, the server and the confirmation
 * broker are built with them. A reload cannot apply them, so it names those that changed.
 * (request_wait goes into each credential's policy, but a credential whose own settings did not
 * change is kept as it runs, old policy included: so it too waits for the next start.)
 */
const START_ONLY: ReadonlyArray<readonly [string, (c: AgentConfig) => unknown]> = [
  ["keyring", (c) => c.keyring],
  ["file_passphrase_file", (c) => c.filePassphraseFile],
  ["agent.request_wait", (c) => c.requestWaitMs],
  ["agent.deny_root", (c) => c.denyRoot],
  ["agent.require_session_token", (c) => c.requireSessionToken],
  ["agent.confirm_timeout", (c) => c.confirmTimeoutMs],
  // The database endpoints' listeners are made at start (src/dbproxy); compared by value.
  ["databases", (c) => JSON.stringify(c.databases)],
  ["endpoints", (c) => JSON.stringify(c.endpoints ?? null)],
];

/** The start-only settings whose value differs between the config in force and the new one. */
export function startOnlyChanges(running: AgentConfig, next: AgentConfig): string[] {
  return START_ONLY.filter(([, read]) => read(running) !== read(next)).map(([name]) => name);
}

/** What to say when start-only settings changed: which, and how to apply them. */
export function restartNotice(settings: string[]): string {
  const list = settings.join(", ");
  return `${list} changed; ${settings.length === 1 ? "it applies" : "they apply"} at the next start: credagent stop && credagent start`;
}
