// The agent's Kerberos worker thread: every libkrb5 call that may wait on a KDC runs here, one at a
// time, so that a KDC that is slow or down (libkrb5 waits out its timeouts, seconds per KDC) never
// holds up the thread that serves the agent's socket. It holds no state between requests: each
// opens a krb5 context on the profile it names and closes it.
import { Krb5Context, Krb5Error, type TicketTimes } from "../native/krb5.ts";
import type { KdcReply, KdcRequest } from "./protocol.ts";

declare const self: {
  onmessage: ((event: MessageEvent<KdcRequest & { id: number }>) => void) | null;
  postMessage(message: KdcReply): void;
};

function run(request: KdcRequest): TicketTimes | null {
  const context = new Krb5Context(request.profile);
  try {
    switch (request.op) {
      case "acquire": {
        const secret = request.password ? { password: request.password } : { keytab: request.keytab ?? "" };
        return context.acquire(request.principal, secret, request.into, {
          ticketSeconds: request.ticketSeconds,
          renewSeconds: request.renewSeconds,
        });
      }
      case "renew":
        return context.renew(request.from, request.into);
      case "service":
        return context.serviceTicket(request.from, request.service, request.into);
      case "tgt":
        return context.tgt(request.cache);
      case "destroy":
        context.destroy(request.cache);
        return null;
      default:
        throw new Error(`unknown request ${(request as { op: string }).op}`);
    }
  } finally {
    context.close();
    if (request.op === "acquire") request.password?.fill(0);
  }
}

self.onmessage = (event) => {
  const { id, ...request } = event.data;
  try {
    self.postMessage({ id, ok: true, times: run(request) });
  } catch (err) {
    self.postMessage({
      id,
      ok: false,
      krb5Code: err instanceof Krb5Error ? err.krb5Code : null,
      message: err instanceof Error ? err.message : String(err),
    });
  }
};
