import type { AccessDecision } from "../api/deps.ts";
import type { Actor } from "../identity/actor.ts";
import { authorize, type AllowRule, type PeerFacts } from "./rules.ts";
import { approverConflict, attribute, type Attribution, type OwnExecutable } from "../identity/lineage.ts";
import {
  controllingTerminal,
  executableSha256,
  ownExecutable,
  sameProcess,
  systemProcReader,
  type ProcReader,
} from "../identity/process-info.ts";
import type { AuditLog } from "../log/audit.ts";
import type { ConfirmationBroker, PendingApproval, Requester } from "./confirm.ts";

export interface AccessDeps {
  /** The access settings of a credential as currently configured (reloads take effect at once). */
  accessOf(credential: string): { allow?: AllowRule[]; confirm: boolean } | undefined;
  audit: AuditLog;
  confirmations: ConfirmationBroker;
  /** The kernel's process facts and the agent's own executable; injected by tests. */
  proc?: ProcReader;
  own?: OwnExecutable;
}

/** The agent's side of authorization: peer facts from the connection, rules from the config, an audit line per decision. */
export function createAccessControl(deps: AccessDeps) {
  const proc = deps.proc ?? systemProcReader;
  let own = deps.own;

  // Per connection, on its first decision: a connection is one process, and a CLI process has one parent.
  const attributions = new WeakMap<Actor, Attribution>();
  const attributionOf = (connection: Actor | undefined): Attribution | null => {
    const peer = connection?.peer;
    if (!connection || !peer) return null;
    let found = attributions.get(connection);
    if (!found) {
      own ??= ownExecutable();
      const facts = {
        pid: peer.pid,
        uid: peer.uid,
        exe: connection.process?.exe ?? null,
        startTime: connection.process?.startTime ?? null,
        sid: null,
      };
      found = attribute(facts, own, proc);
      attributions.set(connection, found);
    }
    return found;
  };

  const facts = (connection: Actor | undefined): PeerFacts | null => {
    const found = attributionOf(connection);
    if (!found) return null;
    const { program, via } = found;
    const all = program ? [program, ...via] : via;
    // The same process (not a reused pid) running the same program: a process that exec'd another
    // program between the connection and the decision is refused, where the kernel shows it (an
    // exec before the agent accepted the connection cannot be told apart; the README says so).
    const stillSameProcess = () => all.every((p) => sameProcess(p) && (p.exe === null || proc.exe(p.pid) === p.exe));
    if (!program) {
      const peer = via[0]!;
      return { pid: peer.pid, uid: peer.uid, exe: null, unverified: found.unverified, sha256: async () => null, stillSameProcess };
    }
    return {
      pid: program.pid,
      uid: program.uid,
      exe: program.exe,
      // Hashed through /proc/PID/exe: checked again after, so a pid reused meanwhile hashes nothing.
      sha256: async () => {
        const digest = await executableSha256(program.pid);
        return sameProcess(program) ? digest : null;
      },
      stillSameProcess,
    };
  };

  // A decision holds for the connection it was made on (the same process, checked against pid
  // reuse when made) until the credential's rules change: one evaluation and one audit line per
  // connection and credential, not per request. Keyed by the settings object, which a reload replaces.
  const decided = new WeakMap<Actor, Map<string, { settings: object | undefined; decision: AccessDecision }>>();

  return {
    async authorize(
      credential: string,
      event: "fetch" | "refresh" | "login",
      connection: Actor | undefined,
      database?: string,
    ): Promise<AccessDecision> {
      const settings = deps.accessOf(credential);
      const cache = connection ? (decided.get(connection) ?? new Map()) : undefined;
      const earlier = cache?.get(credential);
      if (earlier && earlier.settings === settings) return earlier.decision;
      let decision = await authorize(settings?.allow, facts(connection));
      const found = attributionOf(connection);
      if (decision.allowed && settings?.confirm) {
        const requester = found ? requesterOf(found) : null;
        if (!requester) {
          const why = found?.unverified
            ? `the program that ran credagent cannot be verified (${found.unverified})`
            : "the asking process cannot be identified";
          decision = { allowed: false, reason: `confirm = true, but ${why}: run credagent from a program that waits for it` };
        } else {
          const answer = await deps.confirmations.confirm(credential, requester);
          decision = { allowed: answer.approved, reason: `${decision.reason}; ${answer.reason}` };
        }
      }
      if (connection && cache) {
        cache.set(credential, { settings, decision });
        decided.set(connection, cache);
      }
      const carrier = found?.via[0];
      deps.audit.record({
        event,
        decision: decision.allowed ? "allow" : "deny",
        reason: decision.reason,
        credential,
        pid: found?.program?.pid ?? null,
        uid: found?.program?.uid ?? carrier?.uid ?? null,
        exe: found?.program?.exe ?? null,
        ...(carrier ? { via: { exe: carrier.exe, pid: carrier.pid } } : {}),
        ...(database ? { database } : {}),
      });
      return decision;
    },
    async mayList(credential: string, connection: Actor | undefined): Promise<boolean> {
      return (await authorize(deps.accessOf(credential)?.allow, facts(connection))).allowed;
    },
  };
}

function requesterOf({ program, via }: Attribution): Requester | null {
  if (!program || !program.exe) return null;
  const carrier = via[0];
  return { exe: program.exe, pid: program.pid, via: carrier ? { exe: carrier.exe, pid: carrier.pid } : null, processes: [program, ...via] };
}

/**
 * Who may answer a confirmation prompt through the socket: a process with a controlling terminal
 * (a person at a shell, not a background program of the same user), not one of the processes
 * asking, not in their session, and not started by them (script(1) gives a program both a
 * terminal and a new session). A same-user program that detaches from its tree first is not
 * stopped; the README says so.
 */
export function mayAnswerApproval(
  connection: Actor | undefined,
  pending: Pick<PendingApproval, "requester">,
  terminalOf: (pid: number) => number | null = controllingTerminal,
  proc: ProcReader = systemProcReader,
): string | null {
  const pid = connection?.peer?.pid;
  if (pid === undefined) return "the approving process cannot be identified";
  if (pending.requester.processes.some((p) => p.pid === pid)) return "a process cannot approve its own request";
  const tty = terminalOf(pid);
  if (!tty) return "approvals come from a terminal: run credagent approve in a shell";
  return approverConflict(pid, pending.requester.processes, proc);
}
