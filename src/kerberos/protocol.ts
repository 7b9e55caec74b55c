import type { TicketTimes } from "../native/krb5.ts";

// The messages between the agent's main thread and its Kerberos worker thread (worker.ts). Every
// request names the Kerberos configuration files to read (`profile`, colon-separated: a credential's
// own realm and kdc settings first, then krb5.conf) and the caches it reads and writes.

export type KdcRequest =
  | {
      op: "acquire";
      profile: string;
      principal: string;
      /** NUL-terminated; the worker zeroes it once used. Absent: `keytab`. */
      password?: Uint8Array;
      keytab?: string;
      /** The cache the new ticket is written to (alone). */
      into: string;
      ticketSeconds?: number;
      renewSeconds?: number;
    }
  | { op: "renew"; profile: string; from: string; into: string }
  | { op: "service"; profile: string; from: string; service: string; into: string }
  | { op: "tgt"; profile: string; cache: string }
  | { op: "destroy"; profile: string; cache: string };

export type KdcReply =
  | { id: number; ok: true; times: TicketTimes | null }
  | { id: number; ok: false; krb5Code: number | null; message: string };
