import type { AgentConfig } from "../config/load.ts";
import type { CredentialDefinition } from "../refresh/registry.ts";
import { DEFAULT_POLICY } from "../refresh/policy.ts";
import { createSource, secretsUsedBy } from "./sources.ts";
import type { SecretStore } from "../store/store.ts";
import { azureIdentityOf } from "../endpoints/resource.ts";

/** Turns the checked config into what the registry runs. */
export function toDefinitions(config: AgentConfig, env: Record<string, string | undefined>, store: SecretStore): CredentialDefinition[] {
  // A pgpass line or a kept file is read by its program whenever it likes, never asked for over the
  // socket: its credentials are fetched at start and kept fresh, however long nobody asks.
  // A ticket cache too: programs read the file (KRB5CCNAME), and never ask the agent.
  const byConnection = new Map(config.connections.map((c) => [c.name, c.credential]));
  const keptFresh = new Set([
    ...config.connections.filter((c) => c.pgpass).map((c) => c.credential),
    ...config.credentials.filter((c) => c.source === "kerberos").map((c) => c.name),
    ...config.files.flatMap((f) => [...f.credentials, ...f.connections.map((c) => byConnection.get(c)!)]),
  ]);
  return config.credentials.map((credential) => ({
    name: credential.name,
    fingerprint: JSON.stringify({ ...credential, allow: undefined, confirm: undefined }),
    access: { allow: credential.allow, confirm: credential.confirm },
    prefetch: credential.prefetch || keptFresh.has(credential.name),
    keptFresh: keptFresh.has(credential.name),
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
