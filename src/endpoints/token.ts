import { CredagentError } from "../errors.ts";
import type { ManagedCredential } from "../refresh/credential.ts";
import type { Token } from "../sources/source.ts";
import type { EndpointDeps, LoopbackPeer } from "./deps.ts";

/**
 * A credential's token for an SDK endpoint: the same lock, allow rules and audit line as the
 * socket's API. The one way a route gets a secret, so the one place that refuses HEAD: a probe
 * (curl -I, a health check) learns the endpoint is there without the agent running a source
 * (Hono answers HEAD with the GET route, body dropped: the token would be fetched for nothing).
 */
export async function endpointToken(
  deps: EndpointDeps,
  name: string,
  peer: LoopbackPeer,
  method: string,
  /** What of the credential is asked for: its token, or another token it can give (an ID token). */
  want: (credential: ManagedCredential) => Promise<Token> = (credential) => credential.get(),
): Promise<Token> {
  if (method !== "GET" && method !== "POST")
    throw new CredagentError("method_not_allowed", `${method} does not fetch a token here: send GET (a HEAD is answered without one)`);
  if (deps.locked()) throw new CredagentError("locked", "the agent is locked; 'credagent unlock' unlocks it");
  const credential = deps.registry.get(name);
  const decision = await deps.authorize(name, peer);
  if (!decision.allowed) throw new CredagentError("forbidden", `credential '${name}' is not for this process: ${decision.reason}`);
  return want(credential);
}

/** The status an SDK sees for an error: the API's table, unknown errors as 500. */
export function statusOf(err: unknown): number {
  return err instanceof CredagentError ? err.status : 500;
}

export function messageOf(err: unknown): string {
  return err instanceof CredagentError ? err.message : "internal error in the agent; its log has the details";
}
