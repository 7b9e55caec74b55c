import { CString, dlopen, FFIType, toArrayBuffer, type Pointer } from "bun:ffi";
import { CredagentError } from "../errors.ts";

// MIT Kerberos (libkrb5) through bun:ffi: initial tickets from a password or a keytab, renewal,
// service tickets, and credential caches. Every call here is synchronous and may wait on a KDC
// (seconds when one is down): the agent makes them from its Kerberos worker thread
// (src/kerberos/worker.ts), never from the thread that serves requests.
//
// krb5_creds is read at fixed offsets, the same on every LP64 platform MIT builds for (checked with
// offsetof against krb5.h 1.20): client 8, server 16, times 48 (authtime, starttime, endtime,
// renew_till: 32-bit, read unsigned as MIT does since 1.17), ticket_flags 68; 120 bytes in all.

const LIBRARY: Partial<Record<NodeJS.Platform, string[]>> = {
  linux: ["libkrb5.so.3", "libkrb5.so"],
  freebsd: ["libkrb5.so.3"],
};

const { i32, i64, ptr: p, cstring, void: none } = FFIType;
const symbols = {
  profile_init_path: { args: [cstring, p], returns: i64 },
  profile_release: { args: [p], returns: none },
  krb5_init_context_profile: { args: [p, i32, p], returns: i32 },
  krb5_free_context: { args: [p], returns: none },
  krb5_get_error_message: { args: [p, i32], returns: p },
  krb5_free_error_message: { args: [p, p], returns: none },
  krb5_parse_name: { args: [p, cstring, p], returns: i32 },
  krb5_unparse_name: { args: [p, p, p], returns: i32 },
  krb5_free_unparsed_name: { args: [p, p], returns: none },
  krb5_free_principal: { args: [p, p], returns: none },
  krb5_cc_resolve: { args: [p, cstring, p], returns: i32 },
  krb5_cc_initialize: { args: [p, p, p], returns: i32 },
  krb5_cc_store_cred: { args: [p, p, p], returns: i32 },
  krb5_cc_get_principal: { args: [p, p, p], returns: i32 },
  krb5_cc_close: { args: [p, p], returns: i32 },
  krb5_cc_destroy: { args: [p, p], returns: i32 },
  krb5_cc_start_seq_get: { args: [p, p, p], returns: i32 },
  krb5_cc_next_cred: { args: [p, p, p, p], returns: i32 },
  krb5_cc_end_seq_get: { args: [p, p, p], returns: i32 },
  krb5_get_init_creds_opt_alloc: { args: [p, p], returns: i32 },
  krb5_get_init_creds_opt_free: { args: [p, p], returns: none },
  krb5_get_init_creds_opt_set_tkt_life: { args: [p, i32], returns: none },
  krb5_get_init_creds_opt_set_renew_life: { args: [p, i32], returns: none },
  krb5_get_init_creds_password: { args: [p, p, p, p, p, p, i32, p, p], returns: i32 },
  krb5_get_init_creds_keytab: { args: [p, p, p, p, i32, p, p], returns: i32 },
  krb5_kt_resolve: { args: [p, cstring, p], returns: i32 },
  krb5_kt_close: { args: [p, p], returns: i32 },
  krb5_get_renewed_creds: { args: [p, p, p, p, p], returns: i32 },
  krb5_get_credentials: { args: [p, i32, p, p, p], returns: i32 },
  krb5_free_creds: { args: [p, p], returns: none },
  krb5_free_cred_contents: { args: [p, p], returns: none },
} as const;

type Lib = ReturnType<typeof dlopen<typeof symbols>>["symbols"];
let loaded: Lib | undefined;

function lib(): Lib {
  if (loaded) return loaded;
  const names = LIBRARY[process.platform];
  if (!names) throw new CredagentError("not_implemented", `Kerberos through MIT libkrb5 is not implemented on ${process.platform}`);
  let lastError: unknown;
  for (const name of names) {
    try {
      loaded = dlopen(name, symbols).symbols;
      return loaded;
    } catch (err) {
      lastError = err;
    }
  }
  throw new CredagentError(
    "not_implemented",
    `cannot load MIT Kerberos (${names.join(", ")}); install it (Debian: apt-get install libkrb5-3 libgssapi-krb5-2)`,
    { cause: lastError },
  );
}

/** Error codes of com_err table krb5 that decide what the agent does next. */
export const KRB5 = {
  KDC_UNREACH: -1765328228,
  REALM_UNKNOWN: -1765328230,
  REALM_CANT_RESOLVE: -1765328164,
  PREAUTH_FAILED: -1765328360,
  BAD_INTEGRITY: -1765328353,
  C_PRINCIPAL_UNKNOWN: -1765328378,
  S_PRINCIPAL_UNKNOWN: -1765328377,
  KEY_EXP: -1765328361,
  CLIENT_REVOKED: -1765328366,
  POLICY: -1765328372,
  BADOPTION: -1765328371,
  TKT_EXPIRED: -1765328352,
  KT_NOTFOUND: -1765328203,
  CC_NOTFOUND: -1765328243,
  FCC_NOFILE: -1765328189,
} as const;

const TKT_FLG_RENEWABLE = 0x00800000;
const CREDS_SIZE = 120;

/** A Kerberos library failure: the library's own message and its code. */
export class Krb5Error extends Error {
  constructor(
    readonly krb5Code: number,
    message: string,
  ) {
    super(message);
    this.name = "Krb5Error";
  }
}

/** What a ticket says of itself; times in epoch milliseconds. */
export interface TicketTimes {
  client: string;
  server: string;
  startTime: number;
  endTime: number;
  /** Until when it can be renewed, or null when it is not renewable. */
  renewTill: number | null;
}

/** How an initial ticket is obtained: a password (NUL-terminated bytes, zeroed by the caller), or a keytab. */
export type InitialSecret = { password: Uint8Array } | { keytab: string };

function out(): BigUint64Array {
  return new BigUint64Array(1);
}

function value(cell: BigUint64Array): Pointer {
  return Number(cell[0]!) as Pointer;
}

function cstr(text: string): Buffer {
  return Buffer.from(`${text}\0`);
}

/**
 * One krb5 context, on a profile of our choosing (the config files named, in order: a realm's
 * `kdc` from credagent's config first, then krb5.conf). Close it after use.
 */
export class Krb5Context {
  readonly #lib = lib();
  readonly #ctx: Pointer;

  constructor(profilePath: string) {
    const profileCell = out();
    const profileCode = Number(this.#lib.profile_init_path(cstr(profilePath), profileCell));
    if (profileCode !== 0) throw new Krb5Error(profileCode, `cannot read the Kerberos configuration ${profilePath} (error ${profileCode})`);
    const profile = value(profileCell);
    const ctxCell = out();
    const code = this.#lib.krb5_init_context_profile(profile, 0, ctxCell);
    this.#lib.profile_release(profile);
    if (code !== 0) throw new Krb5Error(code, `cannot start the Kerberos library (error ${code})`);
    this.#ctx = value(ctxCell);
  }

  close(): void {
    this.#lib.krb5_free_context(this.#ctx);
  }

  #check(code: number, what: string): void {
    if (code === 0) return;
    const message = this.#lib.krb5_get_error_message(this.#ctx, code);
    const text = message ? new CString(message).toString() : `error ${code}`;
    if (message) this.#lib.krb5_free_error_message(this.#ctx, message);
    throw new Krb5Error(code, `${what}: ${text}`);
  }

  #principal(name: string): Pointer {
    const cell = out();
    this.#check(this.#lib.krb5_parse_name(this.#ctx, cstr(name), cell), `'${name}' is not a Kerberos principal name`);
    return value(cell);
  }

  #unparse(principal: Pointer): string {
    const cell = out();
    this.#check(this.#lib.krb5_unparse_name(this.#ctx, principal, cell), "cannot write a principal name");
    const text = new CString(value(cell)).toString();
    this.#lib.krb5_free_unparsed_name(this.#ctx, value(cell));
    return text;
  }

  #withCache<T>(name: string, use: (cc: Pointer) => T): T {
    const cell = out();
    this.#check(this.#lib.krb5_cc_resolve(this.#ctx, cstr(name), cell), `cannot open the ticket cache ${name}`);
    const cc = value(cell);
    try {
      return use(cc);
    } finally {
      this.#lib.krb5_cc_close(this.#ctx, cc);
    }
  }

  #times(creds: Uint8Array): TicketTimes {
    const view = new DataView(creds.buffer, creds.byteOffset, CREDS_SIZE);
    const at = (offset: number) => view.getUint32(offset, true) * 1000;
    const start = at(52) || at(48);
    const flags = view.getInt32(68, true);
    return {
      client: this.#unparse(Number(view.getBigUint64(8, true)) as Pointer),
      server: this.#unparse(Number(view.getBigUint64(16, true)) as Pointer),
      startTime: start,
      endTime: at(56),
      renewTill: flags & TKT_FLG_RENEWABLE ? at(60) : null,
    };
  }

  /** Writes creds as the only contents of the cache `name` (made for creds' client). */
  #store(name: string, creds: Uint8Array): void {
    const client = Number(new DataView(creds.buffer, creds.byteOffset, CREDS_SIZE).getBigUint64(8, true)) as Pointer;
    this.#withCache(name, (cc) => {
      this.#check(this.#lib.krb5_cc_initialize(this.#ctx, cc, client), `cannot write the ticket cache ${name}`);
      this.#check(this.#lib.krb5_cc_store_cred(this.#ctx, cc, creds), `cannot write the ticket cache ${name}`);
    });
  }

  /** An initial ticket (TGT) for `principal` from the KDC, written to the cache `into`. */
  acquire(principal: string, secret: InitialSecret, into: string, life: { ticketSeconds?: number; renewSeconds?: number }): TicketTimes {
    const client = this.#principal(principal);
    const optCell = out();
    this.#check(this.#lib.krb5_get_init_creds_opt_alloc(this.#ctx, optCell), "cannot allocate ticket options");
    const opt = value(optCell);
    const creds = new Uint8Array(CREDS_SIZE);
    let filled = false;
    try {
      if (life.ticketSeconds !== undefined) this.#lib.krb5_get_init_creds_opt_set_tkt_life(opt, life.ticketSeconds);
      if (life.renewSeconds !== undefined) this.#lib.krb5_get_init_creds_opt_set_renew_life(opt, life.renewSeconds);
      if ("password" in secret) {
        // No prompter: an expired password or a second factor is an error to report, not a question
        // to ask on the agent's (absent) terminal.
        const code = this.#lib.krb5_get_init_creds_password(this.#ctx, creds, client, secret.password, null, null, 0, null, opt);
        this.#check(code, `the KDC gave no ticket for ${principal}`);
      } else {
        const ktCell = out();
        this.#check(this.#lib.krb5_kt_resolve(this.#ctx, cstr(secret.keytab), ktCell), `cannot open the keytab ${secret.keytab}`);
        try {
          const code = this.#lib.krb5_get_init_creds_keytab(this.#ctx, creds, client, value(ktCell), 0, null, opt);
          this.#check(code, `the KDC gave no ticket for ${principal} with the keytab ${secret.keytab}`);
        } finally {
          this.#lib.krb5_kt_close(this.#ctx, value(ktCell));
        }
      }
      filled = true;
      this.#store(into, creds);
      return this.#times(creds);
    } finally {
      if (filled) this.#lib.krb5_free_cred_contents(this.#ctx, creds);
      this.#lib.krb5_get_init_creds_opt_free(this.#ctx, opt);
      this.#lib.krb5_free_principal(this.#ctx, client);
    }
  }

  /** Renews the TGT of the cache `from` at the KDC; the renewed ticket is written to the cache `into`. */
  renew(from: string, into: string): TicketTimes {
    const creds = new Uint8Array(CREDS_SIZE);
    this.#withCache(from, (cc) => {
      const cell = out();
      this.#check(this.#lib.krb5_cc_get_principal(this.#ctx, cc, cell), `the ticket cache ${from} holds no principal`);
      const principal = value(cell);
      try {
        this.#check(this.#lib.krb5_get_renewed_creds(this.#ctx, creds, principal, cc, null), "the KDC did not renew the ticket");
      } finally {
        this.#lib.krb5_free_principal(this.#ctx, principal);
      }
    });
    try {
      this.#store(into, creds);
      return this.#times(creds);
    } finally {
      this.#lib.krb5_free_cred_contents(this.#ctx, creds);
    }
  }

  /**
   * A ticket for `service` (a principal name; the client's realm when it names none), from the cache
   * `from` (asking the KDC when the cache has none, and keeping it there), written alone to the cache `into`.
   */
  serviceTicket(from: string, service: string, into: string): TicketTimes {
    return this.#withCache(from, (cc) => {
      const clientCell = out();
      this.#check(this.#lib.krb5_cc_get_principal(this.#ctx, cc, clientCell), `the ticket cache ${from} holds no principal`);
      const client = value(clientCell);
      let server: Pointer | undefined;
      try {
        const clientName = this.#unparse(client);
        const realm = clientName.slice(clientName.lastIndexOf("@") + 1);
        server = this.#principal(hasRealm(service) ? service : `${service}@${realm}`);
        const wanted = new Uint8Array(CREDS_SIZE);
        const view = new DataView(wanted.buffer);
        view.setBigUint64(8, BigInt(client), true);
        view.setBigUint64(16, BigInt(server), true);
        const resultCell = out();
        this.#check(this.#lib.krb5_get_credentials(this.#ctx, 0, cc, wanted, resultCell), `no ticket for the service ${service}`);
        const result = value(resultCell);
        try {
          const got = new Uint8Array(toArrayBuffer(result, 0, CREDS_SIZE));
          this.#store(into, got);
          return this.#times(got);
        } finally {
          this.#lib.krb5_free_creds(this.#ctx, result);
        }
      } finally {
        if (server) this.#lib.krb5_free_principal(this.#ctx, server);
        this.#lib.krb5_free_principal(this.#ctx, client);
      }
    });
  }

  /** The cache's TGT for its principal's realm, or null when it has none (or there is no cache). */
  tgt(name: string): TicketTimes | null {
    try {
      return this.#withCache(name, (cc) => {
        const clientCell = out();
        const code = this.#lib.krb5_cc_get_principal(this.#ctx, cc, clientCell);
        if (code !== 0) return null;
        const client = value(clientCell);
        const clientName = this.#unparse(client);
        this.#lib.krb5_free_principal(this.#ctx, client);
        const realm = clientName.slice(clientName.lastIndexOf("@") + 1);
        const wantedServer = `krbtgt/${realm}@${realm}`;
        const cursorCell = out();
        if (this.#lib.krb5_cc_start_seq_get(this.#ctx, cc, cursorCell) !== 0) return null;
        let found: TicketTimes | null = null;
        const creds = new Uint8Array(CREDS_SIZE);
        while (this.#lib.krb5_cc_next_cred(this.#ctx, cc, cursorCell, creds) === 0) {
          const times = this.#times(creds);
          this.#lib.krb5_free_cred_contents(this.#ctx, creds);
          if (times.server === wantedServer && (!found || times.endTime > found.endTime)) found = times;
        }
        this.#lib.krb5_cc_end_seq_get(this.#ctx, cc, cursorCell);
        return found;
      });
    } catch (err) {
      if (err instanceof Krb5Error) return null;
      throw err;
    }
  }

  /** Removes the cache (a MEMORY cache's tickets, or a file). */
  destroy(name: string): void {
    const cell = out();
    if (this.#lib.krb5_cc_resolve(this.#ctx, cstr(name), cell) !== 0) return;
    this.#lib.krb5_cc_destroy(this.#ctx, value(cell));
  }
}

/** Whether a principal name ends in an (unescaped) @REALM. */
export function hasRealm(name: string): boolean {
  for (let i = name.length - 1; i >= 0; i--) {
    if (name[i] !== "@") continue;
    let slashes = 0;
    for (let j = i - 1; j >= 0 && name[j] === "\\"; j--) slashes++;
    if (slashes % 2 === 0) return true;
  }
  return false;
}
