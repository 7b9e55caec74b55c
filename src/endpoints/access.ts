import type { AccessDecision } from "../api/deps.ts";
import type { AuditLog } from "../log/audit.ts";
import { authorize, type AllowRule } from "../policy/rules.ts";
import type { LoopbackPeer } from "./deps.ts";

/**
 * The credential's allow rules and the audit log, for a request on loopback: the peer's uid may
 * be known (Linux), its process is not (no pid comes with a TCP connection), so rules that name a
 * program refuse, and `confirm = true` refuses (nobody can be asked about an unknown program).
 */
export function loopbackAccess(deps: {
  accessOf(credential: string): { allow?: AllowRule[]; confirm: boolean } | undefined;
  audit: Pick<AuditLog, "record">;
}) {
  return async (credential: string, peer: LoopbackPeer): Promise<AccessDecision> => {
    const settings = deps.accessOf(credential);
    let decision: AccessDecision = await authorize(settings?.allow, null);
    if (decision.allowed && settings?.confirm)
      decision = { allowed: false, reason: "confirm = true, but a program on the SDK endpoint cannot be identified to ask about it" };
    if (!decision.allowed && settings?.allow?.length)
      decision = { allowed: false, reason: "allow rules name processes, and the SDK endpoint cannot identify the process (only its uid)" };
    deps.audit.record({
      event: "fetch",
      decision: decision.allowed ? "allow" : "deny",
      reason: `${peer.protocol} endpoint${peer.form ? ` (${peer.form})` : ""} on 127.0.0.1: ${decision.reason}`,
      credential,
      pid: null,
      uid: peer.uid,
      exe: null,
    });
    return decision;
  };
}
