import type { CredentialConfig } from "../config/load.ts";

// Azure names what a token is for by a resource URI ("https://vault.azure.net"); the SDKs turn a
// scope "https://vault.azure.net/.default" into that resource before asking the endpoint
// (@azure/identity mapScopesToResource). Both sides are compared in one normal form.

/** What the Azure endpoint knows a credential by: its resource, and an oauth2 credential's client id. */
export function azureIdentityOf(credential: CredentialConfig): { resource: string; clientId?: string } | undefined {
  const resource = resourceOf(credential);
  if (resource === undefined) return undefined;
  return credential.source === "oauth2" ? { resource, clientId: credential.clientId } : { resource };
}

/** The resource a credential's tokens are for: its `resource` key, else an oauth2 scope's `/.default` resource. */
export function resourceOf(credential: CredentialConfig): string | undefined {
  if (credential.resource) return normalizeResource(credential.resource);
  if (credential.source !== "oauth2" || !credential.scope) return undefined;
  const scopes = credential.scope.split(/\s+/).filter(Boolean);
  const defaults = scopes.filter((s) => s.endsWith("/.default"));
  // Only an unambiguous one: a credential asking for two resources' scopes serves neither here.
  return defaults.length === 1 ? normalizeResource(defaults[0]!) : undefined;
}

/** Without `/.default`, trailing slashes and case in scheme and host: "HTTPS://Vault.azure.net/" is "https://vault.azure.net". */
export function normalizeResource(text: string): string {
  let value = text
    .trim()
    .replace(/\/\.default$/, "")
    .replace(/\/+$/, "");
  try {
    const url = new URL(value);
    value = `${url.protocol}//${url.host}${url.pathname.replace(/\/+$/, "")}${url.search}`;
  } catch {
    // Not a URL (an application id URI such as "api://…" parses; a bare GUID does not): as given.
  }
  return value;
}
