import { randomBytes } from "node:crypto";
import { basename } from "node:path";
import type { DatabaseConfig } from "../../config/databases.ts";
import { CredagentError, describe } from "../../errors.ts";
import type { Actor } from "../../identity/actor.ts";
import type { Logger } from "../../log/log.ts";
import type { Stream } from "../../transport/stream.ts";
import type { DbLogin } from "../login.ts";
import { LOGIN_PACKET_LIMIT, PacketChannel } from "./channel.ts";
import { COM_CHANGE_USER, COM_QUIT, CommandScanner } from "./commands.ts";
import {
  ACCESS_DENIED,
  CACHING_SHA2_PASSWORD,
  Cap,
  changeUser,
  errPayload,
  greeting,
  isSslRequest,
  NATIVE_PASSWORD,
  parseChangeUser,
  parseHandshakeResponse,
  RELAYED_CAPS,
} from "./messages.ts";
import { packet } from "./packets.ts";
import {
  authenticate,
  firstAnswer,
  type LoginRequest,
  loginServer,
  openServer,
  type ServerHello,
  ServerRefused,
  type ServerSession,
} from "./upstream.ts";

// One client connection on a [databases.NAME] socket with protocol = "mysql", after the admission
// step let it in: the client is greeted as by a server (the real server's version and connection
// id, the flags the relay can carry, no TLS on a local socket), any password it sends is ignored,
// and it is joined to a server connection the proxy logged in with the credential. After that the
// bytes are relayed as they come; only the packet headers of the client's side are read, to answer
// COM_CHANGE_USER here.

export interface MysqlSessionDeps {
  db: DatabaseConfig;
  /** Who connected, as the admission step identified them. */
  actor: Actor;
  /** The credential's allow rules, confirm and audit line, and the lock; throws when refused. */
  authorize(): Promise<void>;
  /** The credential's login now. */
  login(): Promise<DbLogin>;
  /** A newer login than `used`, once the credential has one (a rotation under way), or null. */
  newerLogin(used: DbLogin): Promise<DbLogin | null>;
  /** This password was refused by the server lately and has not changed: it is not sent again (dbproxy/refused.ts). */
  refusedLately(login: DbLogin): boolean;
  /** The error for a password refused for good (remembered), or refused lately (serverSaid null). */
  refusal(login: DbLogin, serverSaid: string | null): Error;
  /** The server connection, once the session has one (closed with the client's when it is evicted). */
  joined(server: { destroy(): void }): void;
  /** The client's connection is gone: called once. */
  closed(): void;
  /** TCP, TLS and the login with the server. */
  connectTimeoutMs: number;
  /** How long the client has to answer the greeting (and a COM_CHANGE_USER to arrive whole). */
  handshakeTimeoutMs: number;
  log: Logger;
  random?: (n: number) => Uint8Array;
}

/** Flags offered to the client: what the server has and the relay carries, and what the proxy itself speaks in the login. */
function offeredCapabilities(server: number): number {
  return (
    ((server & RELAYED_CAPS) |
      Cap.LONG_PASSWORD |
      Cap.PROTOCOL_41 |
      Cap.SECURE_CONNECTION |
      Cap.PLUGIN_AUTH |
      Cap.PLUGIN_AUTH_LENENC_CLIENT_DATA |
      Cap.CONNECT_ATTRS) >>>
    0
  );
}

/** The client's attributes, with the program the kernel named: program_name unless the client set one. */
export function attributesFor(client: Array<[string, string]>, actor: Actor): Array<[string, string]> {
  const pid = actor.peer?.pid;
  const exe = actor.process?.exe;
  if (pid === undefined) return client;
  const out = client.filter(([k]) => !k.startsWith("credagent_"));
  if (!out.some(([k]) => k === "program_name")) out.push(["program_name", `credagent:${exe ? basename(exe) : "unknown"}[${pid}]`]);
  out.push(["credagent_program", `${exe ?? "unknown"}[${pid}]`]);
  return out;
}

export async function serveMysql(client: Stream, deps: MysqlSessionDeps): Promise<void> {
  const { db } = deps;
  const fromClient = new PacketChannel("the client", 2 * LOGIN_PACKET_LIMIT);
  let closed = false;
  // A server connection that greeted and waits for a login: ended by logging in and quitting, not
  // by a reset, since a server counts handshakes cut short against the agent's host and blocks it
  // after max_connect_errors of them (a client that never answers must not cost more than itself).
  let waiting: { hello: ServerHello; login: DbLogin } | null = null;
  const release = () => {
    if (waiting) void quitQuietly(db, waiting.hello, waiting.login, deps.connectTimeoutMs);
    waiting = null;
  };
  client.onData = (b) => fromClient.push(b);
  client.onEnd = () => fromClient.fail(new CredagentError("unavailable", "the client closed the connection during the login"));
  client.onClose = () => {
    closed = true;
    fromClient.fail(new CredagentError("unavailable", "the client closed the connection during the login"));
    deps.closed();
  };
  // The sequence number of the proxy's next packet to the client.
  let seq = 0;
  let deadline: ReturnType<typeof setTimeout> | undefined;
  let hold: ReturnType<typeof setTimeout> | undefined;
  try {
    await deps.authorize();
    const login = await deps.login();
    if (closed) return;
    // A directory behind the server (PAM, LDAP) locks an account after a few wrong passwords.
    if (deps.refusedLately(login)) throw deps.refusal(login, null);
    let hello = await openServer(db, deps.connectTimeoutMs);
    waiting = { hello, login };
    if (closed) return release();
    const scramble = (deps.random ?? randomBytes)(20);
    client.write(
      packet(
        0,
        greeting({
          ...hello.greeting,
          capabilities: offeredCapabilities(hello.greeting.capabilities),
          authData: scramble,
          // The plugin the server names (caching_sha2_password for MySQL 8 and later, whose clients
          // may lack mysql_native_password); whatever the client answers is ignored.
          authPlugin: hello.greeting.authPlugin === CACHING_SHA2_PASSWORD ? CACHING_SHA2_PASSWORD : NATIVE_PASSWORD,
        }),
      ),
    );
    seq = 1;
    // A server waits connect_timeout (10 s by default in MySQL and MariaDB) for the login before
    // it cuts the handshake itself, which counts against the agent's host as a cut would: the
    // connection is let go first. A client that answers later gets a new one (its greeting then
    // named the first one's connection id: the only cost, for a client this slow).
    hold = setTimeout(release, Math.min(SERVER_HOLD_MS, deps.handshakeTimeoutMs));
    deadline = setTimeout(
      () =>
        fromClient.fail(
          new CredagentError(
            "request_timeout",
            `the client did not answer the server's greeting within ${deps.handshakeTimeoutMs / 1000} s`,
          ),
        ),
      deps.handshakeTimeoutMs,
    );
    const answer = await fromClient.receive();
    clearTimeout(deadline);
    clearTimeout(hold);
    seq = answer.seq + 1;
    if (isSslRequest(answer.payload))
      throw new CredagentError(
        "bad_request",
        "this socket is local and does not do TLS (nor does a MySQL server on its own socket): connect without --ssl / ssl-mode=DISABLED",
      );
    const response = parseHandshakeResponse(answer.payload);
    // The client's password (a hash of it) is never used: the login is the credential's.
    response.authResponse.fill(0);
    const request: LoginRequest = {
      capabilities: response.capabilities,
      maxPacket: response.maxPacket,
      charset: response.charset,
      database: response.database,
      attributes: attributesFor(response.attributes, deps.actor),
    };
    if (!waiting) hello = await openServer(db, deps.connectTimeoutMs);
    // From here the login runs to its end even if the client leaves (then the session quits).
    waiting = null;
    let session: ServerSession;
    try {
      session = await loginServer(db, hello, login, request, deps.connectTimeoutMs);
    } catch (err) {
      // One password per user, as PostgreSQL: a rotation between reading the credential and the
      // server checking it is retried once with the credential's next value.
      if (!(err instanceof ServerRefused) || err.error.code !== ACCESS_DENIED || closed) throw err;
      const next = await deps.newerLogin(login);
      if (closed) throw err;
      if (!next) throw deps.refusal(login, describe(err));
      deps.log.info("password overtaken by a rotation; logging in again with the new one", { database: db.name });
      hello = await openServer(db, deps.connectTimeoutMs);
      try {
        session = await loginServer(db, hello, next, request, deps.connectTimeoutMs);
      } catch (again) {
        if (again instanceof ServerRefused && again.error.code === ACCESS_DENIED) throw deps.refusal(next, describe(again));
        throw again;
      }
    }
    if (closed) return void session.socket.end(packet(0, Uint8Array.of(COM_QUIT)));
    deps.joined(session.socket);
    client.write(packet(seq, session.ok));
    relay(client, fromClient.rest(), session, request, response.capabilities, deps);
  } catch (err) {
    clearTimeout(deadline);
    clearTimeout(hold);
    release();
    if (closed) return;
    client.write(packet(seq, err instanceof ServerRefused ? err.payload : errPayload(`credagent: ${describe(err)}`)));
    client.end();
    deps.log.warn("database connection refused", { database: db.name, pid: deps.actor.peer?.pid, error: describe(err) });
  }
}

/** How long a greeted server connection waits for the client's answer before it is let go. */
const SERVER_HOLD_MS = 5_000;

/** Logs in with the least a login needs and quits at once; whatever goes wrong, the socket is closed. */
async function quitQuietly(db: DatabaseConfig, hello: ServerHello, login: DbLogin, timeoutMs: number): Promise<void> {
  try {
    const request = { capabilities: 0, maxPacket: 1 << 24, charset: hello.greeting.charset, database: null, attributes: [] };
    const session = await loginServer(db, hello, login, request, timeoutMs);
    session.socket.end(packet(0, Uint8Array.of(COM_QUIT)));
  } catch {
    hello.socket.destroy();
  }
}

/** Past this many bytes given to the client and not yet taken by the kernel, the server is not read. */
const HIGH_WATER = 256 * 1024;

function relay(
  client: Stream,
  early: Uint8Array,
  session: ServerSession,
  request: LoginRequest,
  clientCapabilities: number,
  deps: MysqlSessionDeps,
): void {
  const server = session.socket;
  const scanner = new CommandScanner((command) => command === COM_CHANGE_USER);
  let diverted: { fromClient: PacketChannel; fromServer: PacketChannel } | null = null;
  const where = `the database server ${deps.db.host}:${deps.db.port}`;

  const toServer = (bytes: Uint8Array): void => {
    if (!server.write(bytes)) {
      client.pause();
      server.once("drain", () => client.resume());
    }
  };
  /** Secret-bearing bytes (a login's answers): zeroed once the socket is done with them. */
  const toServerSecret = (bytes: Uint8Array): void => {
    const copy = Buffer.from(bytes);
    server.write(copy, () => copy.fill(0));
  };
  const toClient = (bytes: Uint8Array): void => {
    client.write(bytes);
    if (client.pendingBytes > HIGH_WATER) {
      server.pause();
      client.onDrain = () => server.resume();
    }
  };

  const fromClient = (bytes: Uint8Array): void => {
    if (diverted) return diverted.fromClient.push(bytes);
    const { pass, intercepted } = scanner.scan(bytes);
    if (pass.length > 0) toServer(pass);
    if (intercepted) void changeUserHere(intercepted);
  };

  /** COM_CHANGE_USER: logs in again as the credential (its value now), whatever user and password the client named. */
  const changeUserHere = async (first: Uint8Array): Promise<void> => {
    const link = { fromClient: new PacketChannel("the client"), fromServer: new PacketChannel(where) };
    diverted = link;
    link.fromClient.push(first);
    let replySeq = 1;
    const timer = setTimeout(
      () => link.fromClient.fail(new CredagentError("request_timeout", "COM_CHANGE_USER did not arrive whole")),
      deps.handshakeTimeoutMs,
    );
    try {
      const p = await link.fromClient.receive();
      clearTimeout(timer);
      replySeq = p.seq + 1;
      const asked = parseChangeUser(p.payload, clientCapabilities);
      asked.authResponse.fill(0);
      const login = await deps.login();
      const token = firstAnswer(NATIVE_PASSWORD, login.password.bytes(), session.greeting.authData);
      const body = changeUser(
        {
          user: login.user,
          authResponse: token,
          database: asked.database,
          charset: asked.charset ?? request.charset,
          authPlugin: NATIVE_PASSWORD,
          attributes: request.attributes,
        },
        session.capabilities,
      );
      token.fill(0);
      toServerSecret(packet(0, body));
      body.fill(0);
      const ok = await authenticate(
        { channel: link.fromServer, send: toServerSecret },
        { plugin: NATIVE_PASSWORD, scramble: session.greeting.authData },
        login,
        { encrypted: session.encrypted, allowRsaPublicKey: deps.db.allowRsaPublicKey === true, where, database: deps.db.name },
      );
      toClient(packet(replySeq, ok));
    } catch (err) {
      clearTimeout(timer);
      deps.log.warn("COM_CHANGE_USER refused", { database: deps.db.name, pid: deps.actor.peer?.pid, error: describe(err) });
      toClient(packet(replySeq, err instanceof ServerRefused ? err.payload : errPayload(`credagent: ${describe(err)}`)));
      // The server's side of the exchange is in an unknown state: the session ends here.
      client.end();
      server.destroy();
      return;
    }
    const restServer = link.fromServer.rest();
    const restClient = link.fromClient.rest();
    diverted = null;
    scanner.serverSpoke();
    if (restServer.length > 0) toClient(restServer);
    if (restClient.length > 0) fromClient(restClient);
  };

  let done = false;
  client.onData = fromClient;
  client.onEnd = () => server.end();
  client.onClose = () => {
    if (done) return;
    done = true;
    server.destroy();
    deps.closed();
  };
  server.on("data", (bytes: Buffer) => {
    if (diverted) return diverted.fromServer.push(bytes);
    scanner.serverSpoke();
    toClient(bytes);
  });
  server.on("end", () => client.end());
  server.on("error", () => client.end());
  server.on("close", () => {
    diverted?.fromServer.fail(new CredagentError("unavailable", `${where} closed the connection`));
    client.end();
  });
  if (session.rest.length > 0) toClient(session.rest);
  if (early.length > 0) fromClient(early);
  client.resume();
  // The login's reader left it paused.
  server.resume();
}
