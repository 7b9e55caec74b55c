import { randomBytes } from "node:crypto";
import type net from "node:net";
import { CredagentError } from "../errors.ts";
import type { DatabaseConfig } from "../config/databases.ts";
import type { Kdc } from "../kerberos/kdc.ts";
import { KRB5, Krb5Error } from "../native/krb5.ts";
import { GSS_FLAGS, GssInitiator } from "../native/gssapi.ts";
import type { KerberosLogin } from "./login.ts";
import { SealedStream } from "./gss-stream.ts";
import { gssencRequest, gssPacket, gssResponse, SocketFrameReader } from "./wire.ts";

// PostgreSQL's two uses of Kerberos, on the proxy's side toward the server, with a kerberos
// credential's ticket: GSS encryption of the whole connection (GSSENCRequest, pg_hba hostgssenc),
// and the gss authentication method (AuthenticationGSS, pg_hba gss). The service ticket is got on
// the Kerberos worker (it may ask the KDC) into a MEMORY cache of this login's own; the GSS-API
// context is then made from that cache on this thread, with no KDC to wait on.

/** A service ticket ready for GSS-API: the cache holding it alone, and the server's principal. */
export interface GssCredentials {
  ccache: string;
  target: string;
  /** Drops the MEMORY cache (the context keeps its own keys). */
  release(): void;
}

/** libpq's flags: mutual authentication for gss; for encryption, confidentiality and ordering too. */
const AUTH_FLAGS = GSS_FLAGS.mutual;
const ENCRYPTION_FLAGS = GSS_FLAGS.mutual | GSS_FLAGS.replay | GSS_FLAGS.sequence | GSS_FLAGS.conf | GSS_FLAGS.integ;
/** A token the server sends during the handshake: at most its packet size. */
const MAX_TOKEN = 16_384;

/** The server's principal: databases.NAME's service_principal, else postgres/HOST (in the user's realm). */
export function servicePrincipalOf(db: Pick<DatabaseConfig, "host" | "servicePrincipal">): string {
  return db.servicePrincipal ?? `postgres/${db.host.toLowerCase()}`;
}

export async function serviceCredentials(db: DatabaseConfig, login: KerberosLogin, kdc: Kdc): Promise<GssCredentials> {
  const ccache = `MEMORY:credagent-${randomBytes(12).toString("hex")}`;
  const service = servicePrincipalOf(db);
  let times;
  try {
    times = await kdc.serviceTicket({ profile: login.ticket.profile, from: login.ticket.ccache, service, into: ccache });
  } catch (err) {
    void kdc.destroy({ profile: login.ticket.profile, cache: ccache }).catch(() => {});
    const code = err instanceof Krb5Error ? err.krb5Code : 0;
    const hint =
      code === KRB5.S_PRINCIPAL_UNKNOWN
        ? `; the KDC knows no ${service}: set service_principal in [databases.${db.name}] to the server's principal (its krb_server_keyfile's)`
        : code === KRB5.KDC_UNREACH
          ? "; the KDC cannot be reached (a new service ticket needs it)"
          : "";
    throw new CredagentError("upstream_auth", `no Kerberos ticket for the database server: ${(err as Error).message}${hint}`, {
      cause: err,
    });
  }
  return {
    ccache,
    target: times.server,
    release: () => void kdc.destroy({ profile: login.ticket.profile, cache: ccache }).catch(() => {}),
  };
}

export type GssencOutcome = { kind: "sealed"; socket: SealedStream } | { kind: "declined" } | { kind: "refused"; frame: Buffer };

/**
 * Asks the server for GSS encryption and, when it agrees ('G'), makes the context: tokens in
 * length-prefixed packets until complete. 'N': the server does not do it (the connection goes on,
 * as libpq's does). An ErrorResponse instead of a token: the server's refusal, to hand to the client.
 */
export async function startGssEncryption(raw: net.Socket, creds: GssCredentials): Promise<GssencOutcome> {
  const reader = new SocketFrameReader(raw);
  raw.write(gssencRequest());
  const answer = await reader.peek();
  if (answer === 0x45 /* E: a server older than 12 */) return { kind: "refused", frame: await reader.typed() };
  await reader.byte();
  if (answer === 0x4e /* N */) {
    reader.detach();
    return { kind: "declined" };
  }
  if (answer !== 0x47 /* G */) throw new CredagentError("upstream_auth", `the database server answered GSSENCRequest with ${answer}`);
  const gss = new GssInitiator(creds.ccache, creds.target, ENCRYPTION_FLAGS);
  try {
    let input: Uint8Array | undefined;
    for (;;) {
      const { token, complete } = gss.step(input);
      if (token.byteLength > 0) raw.write(gssPacket(token));
      if (complete) break;
      if ((await reader.peek()) === 0x45) {
        const frame = await reader.typed();
        gss.dispose();
        return { kind: "refused", frame };
      }
      const length = (await reader.bytes(4)).readUInt32BE(0);
      if (length > MAX_TOKEN) throw new CredagentError("upstream_auth", `the database server sent a GSS token of ${length} bytes`);
      input = await reader.bytes(length);
    }
    return { kind: "sealed", socket: new SealedStream(raw, gss, reader.detach()) };
  } catch (err) {
    gss.dispose();
    throw err;
  }
}

/** The answers to AuthenticationGSS (code 7) and AuthenticationGSSContinue (8, with the server's token). */
export class GssAuthentication {
  #gss: GssInitiator | undefined;

  constructor(private readonly creds: GssCredentials) {}

  /** The 'p' message to send for this request, or null when there is nothing to send (the context is complete). */
  answer(code: 7 | 8, serverToken: Uint8Array): Buffer | null {
    if (code === 7) {
      this.#gss?.dispose();
      this.#gss = new GssInitiator(this.creds.ccache, this.creds.target, AUTH_FLAGS);
    }
    if (!this.#gss) throw new CredagentError("upstream_auth", "the database server continued a GSS exchange that was not started");
    const { token } = this.#gss.step(code === 8 ? serverToken : undefined);
    return token.byteLength > 0 ? gssResponse(token) : null;
  }

  dispose(): void {
    this.#gss?.dispose();
    this.#gss = undefined;
  }
}
