import { randomBytes } from "node:crypto";
import { CredagentError } from "../errors.ts";
import { systemClock, type Clock } from "../refresh/clock.ts";
import type { ProcessFacts } from "../identity/lineage.ts";
import type { Logger } from "../log/log.ts";

// `confirm = true`: each new (executable, credential) pair waits for the user's yes, from a
// desktop prompt where there is one, or from `credagent approve ID` in a terminal. The executable
// is the program the request is attributed to (for credagent's CLI, the program that ran it). An
// answer is remembered for the agent's lifetime; no answer within the timeout is a no.

/** Who asks: the attributed program, and every process of the request (for the approver checks). */
export interface Requester {
  exe: string;
  pid: number;
  /** credagent's CLI process that carried the request, if it came that way. */
  via: { exe: string | null; pid: number } | null;
  processes: ProcessFacts[];
}

export interface PendingApproval {
  id: string;
  credential: string;
  exe: string;
  pid: number;
  since: number;
  requester: Requester;
}

export interface ConfirmDeps {
  timeoutMs: number;
  /** Injected so that the timeout is tested without waiting it out; the system clock by default. */
  clock?: Clock;
  log: Logger;
  /** Shows a desktop prompt if one is available: resolves true/false, or null when there is none. */
  desktopPrompt(question: string, timeoutMs: number): Promise<boolean | null>;
}

export class ConfirmationBroker {
  #approved = new Set<string>();
  #pending = new Map<string, PendingApproval & { settle(answer: boolean): void; promise: Promise<boolean> }>();

  constructor(private readonly deps: ConfirmDeps) {}

  /** True once the user said yes for this pair (now or before). */
  async confirm(credential: string, requester: Requester): Promise<{ approved: boolean; reason: string }> {
    const { exe } = requester;
    const pair = `${exe}\0${credential}`;
    if (this.#approved.has(pair)) return { approved: true, reason: "confirmed earlier by the user" };
    // One question per pair at a time: a second request from the same program waits for the same answer.
    const existing = [...this.#pending.values()].find((p) => p.credential === credential && p.exe === exe);
    const pending = existing ?? this.#ask(credential, requester);
    const approved = await pending.promise;
    if (approved) this.#approved.add(pair);
    return approved
      ? { approved: true, reason: "confirmed by the user" }
      : { approved: false, reason: `not confirmed by the user (prompt ${pending.id} denied or unanswered)` };
  }

  list(): PendingApproval[] {
    return [...this.#pending.values()].map(({ id, credential, exe, pid, since, requester }) => ({
      id,
      credential,
      exe,
      pid,
      since,
      requester,
    }));
  }

  answer(id: string, approved: boolean): PendingApproval {
    const pending = this.#pending.get(id);
    if (!pending) throw new CredagentError("not_found", `no pending approval '${id}'; 'credagent approve' lists them`);
    pending.settle(approved);
    return pending;
  }

  forget(): void {
    this.#approved.clear();
    for (const p of this.#pending.values()) p.settle(false);
  }

  #ask(credential: string, requester: Requester) {
    const { exe, pid, via } = requester;
    const id = randomBytes(4).toString("hex");
    let settle!: (answer: boolean) => void;
    const promise = new Promise<boolean>((resolve) => {
      settle = (answer) => {
        if (!this.#pending.has(id)) return;
        this.#pending.delete(id);
        cancelTimeout();
        resolve(answer);
      };
    });
    const clock = this.deps.clock ?? systemClock;
    // An unanswered question is a no after the timeout.
    const cancelTimeout = clock.setTimeout(() => settle(false), this.deps.timeoutMs);
    const entry = { id, credential, exe, pid, since: clock.now(), requester, settle, promise };
    this.#pending.set(id, entry);
    const through = via ? ` through credagent (pid ${via.pid})` : "";
    const question = `${exe} (pid ${pid}) asks${through} for the credential '${credential}'. Allow it for this session?`;
    this.deps.log.warn("confirmation needed", { id, credential, exe, pid, via_pid: via?.pid, how: `credagent approve ${id}` });
    this.deps
      .desktopPrompt(question, this.deps.timeoutMs)
      .then((answer) => {
        if (answer !== null) settle(answer);
      })
      .catch(() => {});
    return entry;
  }
}
