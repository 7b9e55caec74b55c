import type { AgentConfig, CredentialConfig } from "./load.ts";

/** A credential whose source reads a long-lived secret stored under its name (`credagent secret set NAME`). */
export function usesStoredSecret(c: CredentialConfig): boolean {
  return c.source === "static" || (c.source === "oauth2" && c.clientAuth !== "none");
}

/**
 * The credentials that cannot be served without the secret store: a stored secret, or a device
 * login's refresh token. Others only cache their tokens there, which they can do without.
 */
export function credentialsNeedingStore(config: AgentConfig): string[] {
  return config.credentials.filter((c) => usesStoredSecret(c) || (c.source === "oauth2" && c.grant === "device_code")).map((c) => c.name);
}
