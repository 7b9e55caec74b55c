import type { AccessDecision, ConnectionBindings } from "../api/deps.ts";
import { authorize, type AllowRule, type PeerFacts } from "../authz/rules.ts";
import { executableSha256, sameProcess } from "../identity/process-info.ts";
import type { AuditLog } from "./audit.ts";
import type { ConfirmationBroker } from "./confirm.ts";

export interface AccessDeps {
  /** The access settings of a credential as currently configured (reloads take effect at once). */
  accessOf(credential: string): { allow?: AllowRule[]; confirm: boolean } | undefined;
  audit: AuditLog;
  confirmations: ConfirmationBroker;
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

  // A decision holds for the connection it was made on (the same process, checked against pid
  // reuse when made) until the credential's rules change: one evaluation and one audit line per
  // connection and credential, not per request. Keyed by the settings object, which a reload replaces.
  const decided = new WeakMap<ConnectionBindings, Map<string, { settings: object | undefined; decision: AccessDecision }>>();

  return {
    async authorize(credential: string, event: "fetch" | "refresh" | "login", connection: ConnectionBindings | undefined): Promise<AccessDecision> {
      const settings = deps.accessOf(credential);
      const cache = connection ? (decided.get(connection) ?? new Map()) : undefined;
      const earlier = cache?.get(credential);
      if (earlier && earlier.settings === settings) return earlier.decision;
      let decision = await authorize(settings?.allow, facts(connection));
      if (decision.allowed && settings?.confirm) {
        const exe = connection?.process?.exe;
        const pid = connection?.peer?.pid;
        if (!exe || pid === undefined) {
          decision = { allowed: false, reason: "confirm = true, but the asking process cannot be identified" };
        } else {
          const answer = await deps.confirmations.confirm(credential, exe, pid);
          decision = { allowed: answer.approved, reason: `${decision.reason}; ${answer.reason}` };
        }
      }
      if (connection && cache) {
        cache.set(credential, { settings, decision });
        decided.set(connection, cache);
      }
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
      return (await authorize(deps.accessOf(credential)?.allow, facts(connection))).allowed;
    },
  };
}

/**
 * Who may answer a confirmation prompt through the socket: a process with a controlling terminal
 * (a person at a shell, not a background program of the same user), and not the one asking.
 */
export function mayAnswerApproval(connection: ConnectionBindings | undefined, askingPid: number, terminalOf: (pid: number) => number | null): string | null {
  const pid = connection?.peer?.pid;
  if (pid === undefined) return "the approving process cannot be identified";
  if (pid === askingPid) return "a process cannot approve its own request";
  const tty = terminalOf(pid);
  if (!tty) return "approvals come from a terminal: run credagent approve in a shell";
  return null;
}
