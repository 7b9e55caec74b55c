import { CredagentError } from "../errors.ts";
import { GssInitiator } from "../native/gssapi.ts";
import { KRB5, Krb5Error } from "../native/krb5.ts";
import { base64Bytes, Secret } from "../secret.ts";
import type { Kdc } from "./kdc.ts";

// HTTP's Negotiate (RFC 4559) for tools that take a header but cannot do SPNEGO: the first SPNEGO
// token for the URL's service (HTTP/host, in the user's realm), from a kerberos credential's TGT.
// The service ticket is got on the Kerberos worker into a MEMORY cache of this request's own; the
// token is made from it on this thread. The value authenticates the user to that service once,
// within the servers' clock skew (5 minutes): a secret, handled as one.

export interface NegotiateHeader {
  /** `Negotiate <base64 token>`. */
  authorization: Secret;
  /** The service principal the ticket is for. */
  service: string;
  /** When the service ticket expires. */
  expiresAt: number;
}

/** The service principal of an http(s) URL: HTTP/ and its host, as curl --negotiate and browsers name it. */
export function httpServiceOf(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new CredagentError(
      "bad_request",
      `'${url}' is not a URL; give the http(s) address of the service, e.g. https://intranet.corp.example.com/`,
    );
  }
  if (parsed.protocol !== "https:" && parsed.protocol !== "http:") {
    throw new CredagentError("bad_request", `'${url}' is not an http(s) URL: Negotiate is HTTP's`);
  }
  return `HTTP/${parsed.hostname.replace(/^\[|\]$/g, "").toLowerCase()}`;
}

export async function negotiateHeader(ticket: { profile: string; ccache: string }, url: string, kdc: Kdc): Promise<NegotiateHeader> {
  const service = httpServiceOf(url);
  const memory = `MEMORY:credagent-${Buffer.from(crypto.getRandomValues(new Uint8Array(12))).toString("hex")}`;
  try {
    let times;
    try {
      times = await kdc.serviceTicket({ profile: ticket.profile, from: ticket.ccache, service, into: memory });
    } catch (err) {
      const unknown = err instanceof Krb5Error && err.krb5Code === KRB5.S_PRINCIPAL_UNKNOWN;
      throw new CredagentError(
        "unavailable",
        `no Kerberos ticket for ${service}: ${(err as Error).message}${unknown ? "; the KDC knows no such service: is it the host name the service's keytab names?" : ""}`,
        { cause: err },
      );
    }
    // One token, no reply expected: no mutual authentication asked (a header cannot carry the answer back).
    const gss = new GssInitiator(memory, times.server, 0, "spnego");
    try {
      const { token } = gss.step();
      // Encoded straight into the Secret's bytes: a base64 string of the token could not be zeroed.
      const header = base64Bytes(token, "Negotiate ");
      token.fill(0);
      return { authorization: new Secret(header), service: times.server, expiresAt: times.endTime };
    } finally {
      gss.dispose();
    }
  } finally {
    void kdc.destroy({ profile: ticket.profile, cache: memory }).catch(() => {});
  }
}
