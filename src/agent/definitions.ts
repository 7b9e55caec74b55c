import type { AgentConfig } from "../config/load.ts";
import type { CredentialDefinition } from "../refresh/registry.ts";
import { DEFAULT_POLICY } from "../refresh/policy.ts";
import { createSource, secretsUsedBy } from "./sources.ts";
import type { SecretStore } from "../store/store.ts";
import { azureIdentityOf } from "../endpoints/resource.ts";

/** Turns the checked config into what the registry runs. */
export function toDefinitions(config: AgentConfig, env: Record<string, string | undefined>, store: SecretStore): CredentialDefinition[] {
  // A pgpass line is read by libpq at every connection, never asked for over the socket: its
  // credential is fetched at start and kept fresh, however long nobody asks.
  // A ticket cache too: programs read the file (KRB5CCNAME), and never ask the agent.
  const keptFresh = new Set([
    ...config.connections.filter((c) => c.pgpass).map((c) => c.credential),
    ...config.credentials.filter((c) => c.source === "kerberos").map((c) => c.name),
  ]);
  return config.credentials.map((credential) => ({
    name: credential.name,
    fingerprint: JSON.stringify({ ...credential, allow: undefined, confirm: undefined }),
    access: { allow: credential.allow, confirm: credential.confirm },
    prefetch: credential.prefetch || keptFresh.has(credential.name),
    secrets: secretsUsedBy(credential),
    azure: azureIdentityOf(credential),
    policy: {
      ...DEFAULT_POLICY,
      ...(keptFresh.has(credential.name) ? { idleAfterMs: Number.POSITIVE_INFINITY } : {}),
      refreshBeforeMs: credential.refreshBeforeMs,
      awsRefreshWindowMs: credential.awsRefreshWindowMs,
      fetchTimeoutMs: credential.timeoutMs,
      requestWaitMs: config.requestWaitMs,
    },
    createSource: () => createSource(credential, { env, store }),
  }));
}
