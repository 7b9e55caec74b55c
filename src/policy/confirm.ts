import { CredagentError } from "../errors.ts";
import { printable } from "../printable.ts";
import { systemClock, type Clock } from "../time/clock.ts";
import type { ProcessFacts } from "../identity/lineage.ts";
import type { Logger } from "../log/log.ts";

// `confirm = true`: each new (executable, credential) pair waits for the user's yes, from a
// desktop prompt where there is one, or from `credagent approve ID` in a terminal. The executable
// is the program the request is attributed to (for credagent's CLI, the program that ran it). An
// answer is remembered for the agent's lifetime; no answer within the timeout is a no.
//
// What waits is bounded (issue 21, item 3): a few questions per credential and overall, and a few
// requests per question. Beyond, a request is answered 429 at once rather than held for the
// minute a question may wait: programs copied under new names, or 9 processes x 128 connections
// asking at once, would otherwise hold the agent's connections and bury the user in prompts.

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

/** Who answered a question, for the audit line. */
export type Answerer =
  | { kind: "terminal"; pid: number; exe: string | null; terminal: string | null }
  | { kind: "desktop"; tool: string }
  | { kind: "lock" };

export interface ConfirmLimits {
  /** Questions waiting at once about one credential. */
  perCredential: number;
  /** Questions waiting at once in all. */
  total: number;
  /** Requests waiting on one question (the same program asking on many connections). */
  waitersPerQuestion: number;
}

export const DEFAULT_CONFIRM_LIMITS: ConfirmLimits = { perCredential: 4, total: 16, waitersPerQuestion: 32 };

export interface ConfirmDeps {
  timeoutMs: number;
  /** Injected so that the timeout is tested without waiting it out; the system clock by default. */
  clock?: Clock;
  log: Logger;
  limits?: ConfirmLimits;
  /** Shows a desktop prompt if one is available: the answer and the program that asked, or null when there is none. */
  desktopPrompt(question: string, timeoutMs: number): Promise<{ approved: boolean; tool: string } | null>;
}

interface Question extends PendingApproval {
  settle(answer: boolean, by: Answerer | null): void;
  promise: Promise<{ approved: boolean; by: Answerer | null }>;
  waiters: number;
}

export class ConfirmationBroker {
  #approved = new Set<string>();
  #pending = new Map<string, Question>();

  constructor(private readonly deps: ConfirmDeps) {}

  /** True once the user said yes for this pair (now or before); 429 at once when too much already waits. */
  async confirm(credential: string, requester: Requester): Promise<{ approved: boolean; reason: string }> {
    const { exe } = requester;
    const pair = `${exe}\0${credential}`;
    if (this.#approved.has(pair)) return { approved: true, reason: "confirmed earlier by the user" };
    // One question per pair at a time: a second request from the same program waits for the same answer.
    const existing = [...this.#pending.values()].find((p) => p.credential === credential && p.exe === exe);
    const question = existing ?? this.#ask(credential, requester);
    if (question.waiters >= this.#limits.waitersPerQuestion) {
      throw this.#busy(
        question,
        `${question.waiters} requests of ${exe} already wait for the answer to prompt ${question.id}; ` +
          `answer it with 'credagent approve ${question.id}', or try again once it is answered`,
      );
    }
    question.waiters += 1;
    let answer: { approved: boolean; by: Answerer | null };
    try {
      answer = await question.promise;
    } finally {
      question.waiters -= 1;
    }
    if (answer.approved) this.#approved.add(pair);
    return answer.approved
      ? { approved: true, reason: `confirmed by the user ${describeAnswerer(answer.by)}` }
      : {
          approved: false,
          reason: answer.by
            ? `not confirmed by the user (prompt ${question.id} denied ${describeAnswerer(answer.by)})`
            : `not confirmed by the user (prompt ${question.id} unanswered)`,
        };
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

  answer(id: string, approved: boolean, by: Answerer): PendingApproval {
    const pending = this.#pending.get(id);
    if (!pending) throw new CredagentError("not_found", `no pending approval '${id}'; 'credagent approve' lists them`);
    pending.settle(approved, by);
    return pending;
  }

  forget(): void {
    this.#approved.clear();
    for (const p of this.#pending.values()) p.settle(false, { kind: "lock" });
  }

  get #limits(): ConfirmLimits {
    return this.deps.limits ?? DEFAULT_CONFIRM_LIMITS;
  }

  #ask(credential: string, requester: Requester): Question {
    const limits = this.#limits;
    const clock = this.deps.clock ?? systemClock;
    const all = [...this.#pending.values()];
    const same = all.filter((p) => p.credential === credential);
    if (same.length >= limits.perCredential) {
      throw this.#busy(
        same[0]!,
        `${same.length} programs already wait for your answer about the credential '${credential}' ` +
          `(at most ${limits.perCredential} at once); 'credagent approve' lists them`,
      );
    }
    if (all.length >= limits.total) {
      throw this.#busy(
        all[0]!,
        `${all.length} prompts already wait for your answer (at most ${limits.total} at once); 'credagent approve' lists them`,
      );
    }
    const { exe, pid, via } = requester;
    const id = Buffer.from(crypto.getRandomValues(new Uint8Array(4))).toString("hex");
    let settle!: (answer: boolean, by: Answerer | null) => void;
    const promise = new Promise<{ approved: boolean; by: Answerer | null }>((resolve) => {
      settle = (approved, by) => {
        if (!this.#pending.has(id)) return;
        this.#pending.delete(id);
        cancelTimeout();
        resolve({ approved, by });
      };
    });
    // An unanswered question is a no after the timeout.
    const cancelTimeout = clock.setTimeout(() => settle(false, null), this.deps.timeoutMs);
    const entry: Question = { id, credential, exe, pid, since: clock.now(), requester, settle, promise, waiters: 0 };
    this.#pending.set(id, entry);
    const through = via ? ` through credagent (pid ${via.pid})` : "";
    // The path is the asking program's to choose: shown with its control characters escaped.
    const question = `${printable(exe)} (pid ${pid}) asks${through} for the credential '${credential}'. Allow it for this session?`;
    this.deps.log.warn("confirmation needed", { id, credential, exe, pid, via_pid: via?.pid, how: `credagent approve ${id}` });
    this.deps
      .desktopPrompt(question, this.deps.timeoutMs)
      .then((answer) => {
        if (answer !== null) settle(answer.approved, { kind: "desktop", tool: answer.tool });
      })
      .catch(() => {});
    return entry;
  }

  /** 429, with Retry-After when the oldest question in the way times out. */
  #busy(oldest: Question, message: string): CredagentError {
    const clock = this.deps.clock ?? systemClock;
    const retryAfterMs = Math.max(1_000, oldest.since + this.deps.timeoutMs - clock.now());
    this.deps.log.warn("confirmation refused: too many requests wait for the user", { credential: oldest.credential });
    return new CredagentError("too_many_requests", message, { retryAfterMs });
  }
}

function describeAnswerer(by: Answerer | null): string {
  if (!by) return "";
  switch (by.kind) {
    case "terminal":
      return `with 'credagent approve' from pid ${by.pid}${by.exe ? ` (${by.exe})` : ""} on ${by.terminal ?? "an unknown terminal"}`;
    case "desktop":
      return `at the desktop prompt (${by.tool})`;
    case "lock":
      return "by the lock";
  }
}
