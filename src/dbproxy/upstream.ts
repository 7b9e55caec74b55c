import { createHash } from "node:crypto";
import net from "node:net";
import tls from "node:tls";
import { Parser } from "pg-protocol/dist/parser.js";
import type { BackendMessage } from "pg-protocol/dist/messages.js";
import { CredagentError } from "../errors.ts";
import type { DatabaseConfig } from "../config/databases.ts";
import type { DbLogin } from "./login.ts";
import { scramSha256 } from "./scram.ts";
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

// The proxy's side toward the real server: TCP, TLS as configured (libpq's sslmode meanings), the
// startup packet with the credential's user, and the answer to whichever authentication the server
// asks for. Returns once the server says AuthenticationOk; from then on the bytes are the client's.

/** The server refused the login: its ErrorResponse, to hand to the client as it is. */
export class ServerRefused extends CredagentError {
  constructor(
    readonly frame: Buffer,
    readonly sqlstate: string | undefined,
    message: string,
  ) {
    super("upstream_auth", message);
  }
}

export interface Authenticated {
  socket: net.Socket | tls.TLSSocket;
  /** AuthenticationOk and whatever the server sent after it, for the client. */
  first: Buffer;
}

export async function connectUpstream(
  db: DatabaseConfig,
  login: DbLogin,
  params: Map<string, string>,
  timeoutMs: number,
): Promise<Authenticated> {
  const { socket, encrypted } = await open(db, timeoutMs);
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
    const ok = await authenticate(reader, socket, db, login, encrypted || isLoopback(db.host));
    return { socket, first: Buffer.concat([ok, reader.detach()]) };
  } catch (err) {
    socket.destroy();
    throw err;
  } finally {
    clearTimeout(timer);
  }
}

/** A CancelRequest for the server's own (pid, key), sent on a new connection as libpq does. */
export async function forwardCancel(db: DatabaseConfig, packet: Buffer, timeoutMs: number): Promise<void> {
  const { socket } = await open(db, timeoutMs);
  await new Promise<void>((resolve) => socket.end(packet, () => resolve()));
}

async function open(db: DatabaseConfig, timeoutMs: number): Promise<{ socket: net.Socket | tls.TLSSocket; encrypted: boolean }> {
  const raw = await connectTcp(db, timeoutMs);
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
  socket: net.Socket,
  db: DatabaseConfig,
  login: DbLogin,
  cleartextAllowed: boolean,
): Promise<Buffer> {
  let scram: ReturnType<typeof scramSha256> | undefined;
  for (;;) {
    const frame = await reader.typed();
    const message = parse(frame);
    if (message.name === "error") {
      const fields = message as unknown as { code?: string; message: string };
      throw new ServerRefused(frame, fields.code, `the database server refused the login: ${fields.message}`);
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
    } else if (message.name === "authenticationMD5Password") {
      const { salt } = message as unknown as { salt: Buffer };
      const inner = createHash("md5").update(login.password.bytes()).update(login.user).digest("hex");
      const outer = createHash("md5").update(inner).update(salt).digest("hex");
      send(socket, passwordMessage(Buffer.from(`md5${outer}`)));
    } else if (message.name === "authenticationSASL") {
      const { mechanisms } = message as unknown as { mechanisms: string[] };
      if (!mechanisms.includes("SCRAM-SHA-256")) {
        throw new CredagentError(
          "upstream_auth",
          `the server offers SASL mechanisms ${mechanisms.join(", ")}; credagent speaks SCRAM-SHA-256`,
        );
      }
      scram = scramSha256(login.password.bytes());
      socket.write(saslInitialResponse("SCRAM-SHA-256", scram.clientFirst));
    } else if (message.name === "authenticationSASLContinue" && scram) {
      socket.write(saslResponse(scram.clientFinal((message as unknown as { data: string }).data)));
    } else if (message.name === "authenticationSASLFinal" && scram) {
      scram.verifyServerFinal((message as unknown as { data: string }).data);
    } else if (message.name !== "notice") {
      throw new CredagentError("upstream_auth", `the database server asked for ${message.name}, which credagent does not answer`);
    }
  }
}

/** Written, then zeroed: the buffer held the password or its hash. */
function send(socket: net.Socket, message: Buffer): void {
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
