import { createHash } from "node:crypto";
import type { Duplex } from "node:stream";
import tls from "node:tls";
import { Parser } from "pg-protocol/dist/parser.js";
import type { BackendMessage } from "pg-protocol/dist/messages.js";
import { CredagentError } from "../errors.ts";
import type { DatabaseConfig } from "../config/databases.ts";
import type { DbLogin } from "./login.ts";
import { GssAuthentication, startGssEncryption, type GssCredentials } from "./gss.ts";
import { tlsServerEndPoint } from "./channel-binding.ts";
import { type ChannelBinding, scramSha256 } from "./scram.ts";
import { connectTcp, startTls } from "./server-connection.ts";
import {
  SocketFrameReader,
  type FrameReader,
  passwordMessage,
  saslInitialResponse,
  saslResponse,
  sslRequest,
  startupMessage,
} from "./wire.ts";

// The proxy's side toward the real server: TCP, GSS encryption with a Kerberos ticket (gss.ts) or
// TLS as configured (libpq's sslmode meanings), the startup packet with the credential's user, and
// the answer to whichever authentication the server asks for. Returns once the server says
// AuthenticationOk; from then on the bytes are the client's.

/** The server refused the login: its ErrorResponse, to hand to the client as it is. */
export class ServerRefused extends CredagentError {
  constructor(
    readonly frame: Buffer,
    readonly sqlstate: string | undefined,
    message: string,
    /** The refusal came after the password was sent: the server (or the directory behind it) refused the password. */
    readonly afterPassword = false,
  ) {
    super("upstream_auth", message);
  }

  /**
   * Whether the password itself was refused: class 28 after it was sent. PostgreSQL says 28P01 for
   * its own password methods and 28000 for ldap, radius and pam, which check it elsewhere.
   */
  get passwordRefused(): boolean {
    return this.afterPassword && (this.sqlstate ?? "").startsWith("28");
  }
}

export interface Authenticated {
  /** TCP, under TLS or GSS encryption when the connection has it. */
  socket: Duplex;
  /** AuthenticationOk and whatever the server sent after it, for the client. */
  first: Buffer;
}

/** A password login, or a Kerberos one with its service ticket. */
export type UpstreamLogin = DbLogin | { kind: "kerberos"; user: string; gss: GssCredentials };

export async function connectUpstream(
  db: DatabaseConfig,
  login: UpstreamLogin,
  params: Map<string, string>,
  timeoutMs: number,
): Promise<Authenticated> {
  const { socket, encrypted } = await open(db, timeoutMs, "gss" in login ? login.gss : undefined);
  const timer = setTimeout(
    () =>
      socket.destroy(
        new CredagentError(
          "unavailable",
          `the database server ${db.host}:${db.port} did not finish authentication within ${timeoutMs / 1000} s`,
        ),
      ),
    timeoutMs,
  );
  try {
    const reader = new SocketFrameReader(socket);
    socket.write(startupMessage(new Map([...params, ["user", login.user]])));
    // Under TLS (not GSS encryption): the server's certificate, for SCRAM channel binding.
    const certificate = socket instanceof tls.TLSSocket ? (socket.getPeerCertificate()?.raw ?? null) : undefined;
    const ok = await authenticate(reader, socket, db, login, encrypted || isLoopback(db.host), certificate);
    return { socket, first: Buffer.concat([ok, reader.detach()]) };
  } catch (err) {
    socket.destroy();
    throw err;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * A CancelRequest for the server's own (pid, key), sent on a new connection as libpq does: under
 * TLS as configured, or, for sessions under GSS encryption (`plain`), in the clear as libpq sends
 * every cancel (a cancel needs no login, and a server with GSS encryption may have no TLS).
 */
export async function forwardCancel(db: DatabaseConfig, packet: Buffer, timeoutMs: number, plain = false): Promise<void> {
  const { socket } = plain ? { socket: await connectTcp(db, timeoutMs) } : await open(db, timeoutMs);
  await new Promise<void>((resolve) => socket.end(packet, () => resolve()));
}

/**
 * The connection before the startup packet. With a Kerberos ticket, GSS encryption first (as libpq
 * with gssencmode=prefer): when the server declines it, TLS as configured on the same connection.
 */
async function open(db: DatabaseConfig, timeoutMs: number, gss?: GssCredentials): Promise<{ socket: Duplex; encrypted: boolean }> {
  const raw = await connectTcp(db, timeoutMs);
  if (gss && db.gssenc !== "disable") {
    let outcome;
    try {
      outcome = await startGssEncryption(raw, gss);
    } catch (err) {
      raw.destroy();
      throw err;
    }
    if (outcome.kind === "sealed") return { socket: outcome.socket, encrypted: true };
    if (outcome.kind === "refused") {
      raw.destroy();
      throw new ServerRefused(
        outcome.frame,
        refusalOf(outcome.frame).code,
        `the database server refused GSS encryption: ${refusalOf(outcome.frame).message}`,
      );
    }
    if (db.gssenc === "require") {
      raw.destroy();
      throw new CredagentError(
        "upstream_auth",
        `the database server ${db.host}:${db.port} does not do GSS encryption, and databases.${db.name} has gssenc = "require"; give the server krb_server_keyfile, or set gssenc = "prefer"`,
      );
    }
  }
  if (db.tls === "disable") return { socket: raw, encrypted: false };
  const reader = new SocketFrameReader(raw);
  raw.write(sslRequest());
  const answer = await reader.byte();
  reader.detach();
  if (answer !== 0x53) {
    raw.destroy();
    throw new CredagentError(
      "upstream_auth",
      `the database server ${db.host}:${db.port} does not offer TLS, and databases.${db.name} has tls = "${db.tls}"; turn ssl on at the server`,
    );
  }
  return { socket: await startTls(db, raw), encrypted: true };
}

async function authenticate(
  reader: FrameReader,
  socket: Duplex,
  db: DatabaseConfig,
  upstreamLogin: UpstreamLogin,
  cleartextAllowed: boolean,
  /** Over TLS: the server's certificate (DER), for channel binding; undefined without TLS. */
  certificate: Uint8Array | null | undefined,
): Promise<Buffer> {
  if ("gss" in upstreamLogin) {
    const gss = new GssAuthentication(upstreamLogin.gss);
    try {
      return await authenticateWithTicket(reader, socket, db, gss);
    } finally {
      gss.dispose();
    }
  }
  const login = upstreamLogin;
  let scram: ReturnType<typeof scramSha256> | undefined;
  let passwordSent = false;
  for (;;) {
    const frame = await reader.typed();
    if (gssRequest(frame) !== null) {
      throw new CredagentError(
        "upstream_auth",
        `the database server asks for Kerberos (gss), and databases.${db.name}'s credential '${db.credential}' is a password; use a kerberos credential`,
      );
    }
    const message = parse(frame);
    if (message.name === "error") {
      const fields = message as unknown as { code?: string; message: string };
      throw new ServerRefused(frame, fields.code, `the database server refused the login: ${fields.message}`, passwordSent);
    }
    if (message.name === "authenticationOk") {
      return frame;
    }
    if (message.name === "authenticationCleartextPassword") {
      if (!cleartextAllowed) {
        throw new CredagentError(
          "upstream_auth",
          `the server ${db.host}:${db.port} asks for the password in clear text over an unencrypted connection; set tls = "verify-full" for databases.${db.name}`,
        );
      }
      send(socket, passwordMessage(login.password.bytes()));
      passwordSent = true;
    } else if (message.name === "authenticationMD5Password") {
      const { salt } = message as unknown as { salt: Buffer };
      const inner = createHash("md5").update(login.password.bytes()).update(login.user).digest("hex");
      const outer = createHash("md5").update(inner).update(salt).digest("hex");
      send(socket, passwordMessage(Buffer.from(`md5${outer}`)));
      passwordSent = true;
    } else if (message.name === "authenticationSASL") {
      const { mechanisms } = message as unknown as { mechanisms: string[] };
      // Bound to the TLS channel whenever the server offers it (libpq's channel_binding=prefer).
      const plus = certificate !== undefined && mechanisms.includes("SCRAM-SHA-256-PLUS");
      if (!plus && !mechanisms.includes("SCRAM-SHA-256")) {
        throw new CredagentError(
          "upstream_auth",
          `the server offers SASL mechanisms ${mechanisms.join(", ")}; credagent speaks SCRAM-SHA-256 and, over TLS, SCRAM-SHA-256-PLUS`,
        );
      }
      if (plus && !certificate)
        throw new CredagentError("upstream_auth", "the database server sent no certificate to bind the SCRAM-SHA-256-PLUS login to");
      const binding: ChannelBinding = plus
        ? { kind: "tls-server-end-point", data: tlsServerEndPoint(certificate!) }
        : certificate !== undefined
          ? { kind: "supported-not-offered" }
          : { kind: "none" };
      scram = scramSha256(login.password.bytes(), undefined, "", binding);
      socket.write(saslInitialResponse(plus ? "SCRAM-SHA-256-PLUS" : "SCRAM-SHA-256", scram.clientFirst));
      passwordSent = true;
    } else if (message.name === "authenticationSASLContinue" && scram) {
      socket.write(saslResponse(scram.clientFinal((message as unknown as { data: string }).data)));
    } else if (message.name === "authenticationSASLFinal" && scram) {
      scram.verifyServerFinal((message as unknown as { data: string }).data);
    } else if (message.name !== "notice") {
      throw new CredagentError("upstream_auth", `the database server asked for ${message.name}, which credagent does not answer`);
    }
  }
}

/**
 * A Kerberos login: AuthenticationGSS and GSSContinue answered with the ticket; on a GSS-encrypted
 * connection the server, which knows the principal already, sends AuthenticationOk at once.
 */
async function authenticateWithTicket(reader: FrameReader, socket: Duplex, db: DatabaseConfig, gss: GssAuthentication): Promise<Buffer> {
  for (;;) {
    const frame = await reader.typed();
    const code = gssRequest(frame);
    if (code !== null) {
      const answer = gss.answer(code, frame.subarray(9));
      if (answer) socket.write(answer);
      continue;
    }
    const message = parse(frame);
    if (message.name === "error") {
      const fields = message as unknown as { code?: string; message: string };
      throw new ServerRefused(frame, fields.code, `the database server refused the login: ${fields.message}`);
    }
    if (message.name === "authenticationOk") return frame;
    if (message.name !== "notice") {
      throw new CredagentError(
        "upstream_auth",
        `the database server asks for ${message.name.replace(/^authentication/, "").replace(/Password$/, " password") || "a password"}, and databases.${db.name}'s credential '${db.credential}' is a Kerberos ticket; its pg_hba.conf must say gss (or hostgssenc … gss) for this role`,
      );
    }
  }
}

/** 7 (AuthenticationGSS) or 8 (AuthenticationGSSContinue), which pg-protocol's parser does not read; else null. */
function gssRequest(frame: Buffer): 7 | 8 | null {
  if (frame[0] !== 0x52 || frame.length < 9) return null;
  const code = frame.readInt32BE(5);
  return code === 7 || code === 8 ? code : null;
}

/** An ErrorResponse's SQLSTATE and message. */
function refusalOf(frame: Buffer): { code?: string; message: string } {
  const message = parse(frame) as unknown as { name: string; code?: string; message?: string };
  return { code: message.code, message: message.message ?? "an error" };
}

/** Written, then zeroed: the buffer held the password or its hash. */
function send(socket: Duplex, message: Buffer): void {
  socket.write(Buffer.from(message));
  message.fill(0);
}

function parse(frame: Buffer): BackendMessage {
  let out: BackendMessage | undefined;
  new Parser().parse(frame, (m: BackendMessage) => (out = m));
  if (!out) throw new CredagentError("upstream_auth", "the database server sent an incomplete message");
  return out;
}

function isLoopback(host: string): boolean {
  return host === "localhost" || host === "::1" || /^127\./.test(host);
}
