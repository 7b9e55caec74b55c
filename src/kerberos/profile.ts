import { dirname, join } from "node:path";
import { defaultSocketPath, type PathEnv } from "../paths.ts";

// Where a kerberos credential's files live, and the Kerberos configuration the agent reads for it:
// the credential's own realm and kdc settings (a small file written beside its ticket cache) ahead
// of the user's krb5.conf (KRB5_CONFIG, else /etc/krb5.conf), so that MIT's profile lookup finds ours
// first and everything else (enctypes, domain_realm, DNS lookups) where the machine keeps it.

/** The private directory (0700) of the agent's ticket caches: `$XDG_RUNTIME_DIR/credagent/krb5`. */
export function ticketCacheDir(p: PathEnv): string {
  const runtime = p.env.XDG_RUNTIME_DIR || dirname(defaultSocketPath(p));
  return join(runtime, "credagent", "krb5");
}

/** What KRB5CCNAME names for a credential's cache. */
export function ticketCacheName(dir: string, credential: string): string {
  return `FILE:${join(dir, credential)}`;
}

export interface RealmSettings {
  realm?: string;
  kdc?: string[];
}

/** The text of the credential's own krb5.conf part, or null when the config sets neither realm nor kdc. */
export function realmProfile(settings: RealmSettings, realm: string): string | null {
  if (settings.realm === undefined && settings.kdc === undefined) return null;
  const lines = ["# Written by credagent from its config: read before krb5.conf.", "[libdefaults]", `\tdefault_realm = ${realm}`];
  if (settings.kdc?.length) {
    lines.push("[realms]", `\t${realm} = {`, ...settings.kdc.map((k) => `\t\tkdc = ${k}`), "\t}");
  }
  return `${lines.join("\n")}\n`;
}

/** The profile path (colon-separated, first wins) for libkrb5: ours, then the user's. */
export function profilePath(own: string | null, env: Record<string, string | undefined>): string {
  const system = env.KRB5_CONFIG || "/etc/krb5.conf";
  return own ? `${own}:${system}` : system;
}
