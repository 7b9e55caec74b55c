import type { AccessDecision, ConnectionBindings } from "../api/deps.ts";
import { authorize, type AllowRule, type PeerFacts } from "../authz/rules.ts";
import { executableSha256, sameProcess } from "../identity/process-info.ts";
import type { AuditLog } from "./audit.ts";

export interface AccessDeps {
  /** The allow rules of a credential as currently configured (reloads take effect at once). */
  rulesOf(credential: string): AllowRule[] | undefined;
  audit: AuditLog;
}

/** The agent's side of authorization: peer facts from the connection, rules from the config, an audit line per decision. */
export function createAccessControl(deps: AccessDeps) {
  const facts = (connection: ConnectionBindings | undefined): PeerFacts | null => {
    const peer = connection?.peer;
    if (!peer) return null;
    const startTime = connection?.process?.startTime ?? null;
    return {
      pid: peer.pid,
      uid: peer.uid,
      exe: connection?.process?.exe ?? null,
      sha256: () => executableSha256(peer.pid),
      stillSameProcess: () => sameProcess({ pid: peer.pid, startTime }),
    };
  };

  return {
    async authorize(credential: string, event: "fetch" | "refresh" | "login", connection: ConnectionBindings | undefined): Promise<AccessDecision> {
      const decision = await authorize(deps.rulesOf(credential), facts(connection));
      deps.audit.record({
        event,
        decision: decision.allowed ? "allow" : "deny",
        reason: decision.reason,
        credential,
        pid: connection?.peer?.pid ?? null,
        uid: connection?.peer?.uid ?? null,
        exe: connection?.process?.exe ?? null,
      });
      return decision;
    },
    async mayList(credential: string, connection: ConnectionBindings | undefined): Promise<boolean> {
      return (await authorize(deps.rulesOf(credential), facts(connection))).allowed;
    },
  };
}
