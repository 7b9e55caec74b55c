// Which credential answers a helper request: git asks for protocol://host[/path], docker for a
// registry. The config maps URL prefixes (git) or registry hosts (docker) to credential names.
// Pure: no I/O.

export interface GitRequest {
  protocol?: string;
  host?: string;
  /** Only sent when git's credential.useHttpPath is set. */
  path?: string;
}

/**
 * The credential for a git request: the configured prefix with the same protocol and host (and
 * port) whose path, if it has one, starts the request's path; the longest such prefix wins, as in
 * git's own credential.<url> matching.
 */
export function gitCredentialFor(mapping: Record<string, string>, request: GitRequest): string | undefined {
  if (!request.protocol || !request.host) return undefined;
  let best: { name: string; length: number } | undefined;
  for (const [prefix, name] of Object.entries(mapping)) {
    let url: URL;
    try {
      url = new URL(prefix);
    } catch {
      continue;
    }
    if (url.protocol !== `${request.protocol}:` || url.host.toLowerCase() !== request.host.toLowerCase()) continue;
    const want = url.pathname.replace(/^\/+|\/+$/g, "");
    const have = (request.path ?? "").replace(/^\/+|\/+$/g, "");
    if (want !== "" && have !== want && !have.startsWith(`${want}/`)) continue;
    if (!best || want.length > best.length) best = { name, length: want.length };
  }
  return best?.name;
}

/** A registry as docker names it ("registry.example.com", "https://index.docker.io/v1/") as host[:port]. */
export function registryHost(serverUrl: string): string {
  const trimmed = serverUrl.trim();
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(trimmed) ? trimmed : `https://${trimmed}`;
  try {
    return new URL(withScheme).host.toLowerCase();
  } catch {
    return trimmed.toLowerCase();
  }
}

export function dockerCredentialFor(mapping: Record<string, string>, serverUrl: string): string | undefined {
  const host = registryHost(serverUrl);
  for (const [registry, name] of Object.entries(mapping)) if (registryHost(registry) === host) return name;
  return undefined;
}
