import { CredagentError } from "../errors.ts";
import { Krb5Error, type TicketTimes } from "../native/krb5.ts";
import type { KdcReply, KdcRequest } from "./protocol.ts";

// The main thread's side of the Kerberos worker (worker.ts): each call posts one request and waits
// for its answer. The worker starts at the first call and never keeps the agent alive. A request
// the worker has not answered within HUNG_MS (libkrb5 stuck past its own timeouts) ends the
// worker: every request waiting on it fails, and the next call starts a new one.

export type KdcCall<Op extends KdcRequest["op"]> = Omit<Extract<KdcRequest, { op: Op }>, "op">;

/** What the agent asks of a KDC (through the worker); tests pass a fake. */
export interface Kdc {
  acquire(request: KdcCall<"acquire">): Promise<TicketTimes>;
  renew(request: KdcCall<"renew">): Promise<TicketTimes>;
  serviceTicket(request: KdcCall<"service">): Promise<TicketTimes>;
  /** The TGT held in a cache (no KDC is asked), or null. */
  tgt(request: KdcCall<"tgt">): Promise<TicketTimes | null>;
  destroy(request: KdcCall<"destroy">): Promise<void>;
}

const HUNG_MS = 60_000;

interface Waiting {
  resolve: (times: TicketTimes | null) => void;
  reject: (err: Error) => void;
  timer: ReturnType<typeof setTimeout>;
}

class WorkerKdc implements Kdc {
  #worker: Worker | undefined;
  #waiting = new Map<number, Waiting>();
  #nextId = 1;

  #start(): Worker {
    if (this.#worker) return this.#worker;
    const worker = new Worker(workerEntry());
    worker.unref();
    worker.onmessage = (event: MessageEvent<KdcReply>) => {
      const reply = event.data;
      const waiting = this.#waiting.get(reply.id);
      if (!waiting) return;
      this.#waiting.delete(reply.id);
      clearTimeout(waiting.timer);
      if (reply.ok) waiting.resolve(reply.times);
      else waiting.reject(new Krb5Error(reply.krb5Code ?? 0, reply.message));
    };
    worker.onerror = (event) => this.#end(`the Kerberos worker failed: ${event.message}`);
    this.#worker = worker;
    return worker;
  }

  #end(why: string): void {
    this.#worker?.terminate();
    this.#worker = undefined;
    for (const [id, waiting] of this.#waiting) {
      clearTimeout(waiting.timer);
      waiting.reject(new CredagentError("unavailable", why));
      this.#waiting.delete(id);
    }
  }

  #call(request: KdcRequest): Promise<TicketTimes | null> {
    const worker = this.#start();
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => this.#end(`the Kerberos library did not answer within ${HUNG_MS / 1000} s (a KDC that accepts but never answers?)`),
        HUNG_MS,
      );
      (timer as { unref?: () => void }).unref?.();
      this.#waiting.set(id, { resolve, reject, timer });
      // The password's buffer moves to the worker (transferred, not copied); the worker zeroes it.
      const transfer = request.op === "acquire" && request.password ? [request.password.buffer as ArrayBuffer] : [];
      worker.postMessage({ ...request, id }, transfer);
    });
  }

  async acquire(request: KdcCall<"acquire">): Promise<TicketTimes> {
    return (await this.#call({ op: "acquire", ...request }))!;
  }
  async renew(request: KdcCall<"renew">): Promise<TicketTimes> {
    return (await this.#call({ op: "renew", ...request }))!;
  }
  async serviceTicket(request: KdcCall<"service">): Promise<TicketTimes> {
    return (await this.#call({ op: "service", ...request }))!;
  }
  tgt(request: KdcCall<"tgt">): Promise<TicketTimes | null> {
    return this.#call({ op: "tgt", ...request });
  }
  async destroy(request: KdcCall<"destroy">): Promise<void> {
    await this.#call({ op: "destroy", ...request });
  }
}

/**
 * In a compiled binary the worker is the build's second entry point (scripts/build.sh), named
 * relative to src/, the entry points' common directory; run from source, it is this file's sibling.
 */
function workerEntry(): string {
  const compiled = import.meta.url.includes("/$bunfs/") || import.meta.url.includes("~BUN");
  return compiled ? "./kerberos/worker.ts" : new URL("./worker.ts", import.meta.url).href;
}

let shared: WorkerKdc | undefined;

/** The agent's one Kerberos worker. */
export function workerKdc(): Kdc {
  shared ??= new WorkerKdc();
  return shared;
}
