import net from "node:net";
import tls from "node:tls";
import type { DatabaseConfig } from "../../config/databases.ts";
import { CredagentError, describe } from "../../errors.ts";
import type { DbLogin } from "../login.ts";
import { startTls } from "../server-connection.ts";
import { PacketChannel } from "./channel.ts";
import {
  CACHING_SHA2_PASSWORD,
  Cap,
  CLEAR_PASSWORD,
  CLIENT_ED25519,
  type Greeting,
  has,
  handshakeResponse,
  isErr,
  isOk,
  NATIVE_PASSWORD,
  parseAuthSwitch,
  parseErr,
  parseGreeting,
  RELAYED_CAPS,
  type ServerError,
  sslRequest,
} from "./messages.ts";
import { packet } from "./packets.ts";
import { cachingSha2Token, ed25519Signature, nativePasswordToken, nulTerminated, rsaEncryptedPassword } from "./scramble.ts";

// The proxy as a MySQL client of the real server: TCP, TLS as configured (after the greeting, as
// MySQL does it), then the login with the credential's user and password, answering whatever
// plugin the server switches to: mysql_native_password, caching_sha2_password (fast and full
// authentication) and MariaDB's client_ed25519.

/** The server refused the login: its ERR packet goes to the client as it is. */
export class ServerRefused extends CredagentError {
  constructor(
    readonly error: ServerError,
    readonly payload: Uint8Array,
  ) {
    super("upstream_auth", `the database server refused the login: ${error.message} (error ${error.code})`);
  }
}

/** A connection to the server that has sent its greeting: the client's greeting is made from it. */
export interface ServerHello {
  socket: net.Socket;
  channel: PacketChannel;
  greeting: Greeting;
  detach(): void;
}

/** What the client asked for, to be carried into the server's login. */
export interface LoginRequest {
  capabilities: number;
  maxPacket: number;
  charset: number;
  database: string | null;
  attributes: Array<[string, string]>;
}

export interface ServerSession {
  socket: net.Socket | tls.TLSSocket;
  /** The server's OK payload ending the login: the client gets it as its own login's OK. */
  ok: Uint8Array;
  /** The flags the login used: the client's, within the server's. */
  capabilities: number;
  greeting: Greeting;
  encrypted: boolean;
  /** Bytes the server sent after its OK, for the relay. */
  rest: Uint8Array;
}

/** Capabilities the proxy needs from the server, and asks for when it has them. */
const REQUIRED = Cap.PROTOCOL_41 | Cap.SECURE_CONNECTION;
const OWN =
  (Cap.LONG_PASSWORD |
    Cap.PROTOCOL_41 |
    Cap.SECURE_CONNECTION |
    Cap.PLUGIN_AUTH |
    Cap.PLUGIN_AUTH_LENENC_CLIENT_DATA |
    Cap.CONNECT_ATTRS) >>>
  0;

function listen(socket: net.Socket, channel: PacketChannel, what: string): () => void {
  const onData = (b: Buffer) => channel.push(b);
  const onEnd = () => channel.fail(new CredagentError("unavailable", `${what} closed the connection during the login`));
  const onError = (err: Error) => channel.fail(new CredagentError("unavailable", `${what}: ${describe(err)}`, { cause: err }));
  socket.on("data", onData);
  socket.on("end", onEnd);
  socket.on("close", onEnd);
  socket.on("error", onError);
  return () => {
    socket.off("data", onData);
    socket.off("end", onEnd);
    socket.off("close", onEnd);
    socket.off("error", onError);
  };
}

/** TCP to the server and its greeting; a server that refuses at once (too many connections, host blocked) is ServerRefused. */
export async function openServer(db: DatabaseConfig, timeoutMs: number): Promise<ServerHello> {
  const socket = net.connect({ host: db.host, port: db.port, noDelay: true });
  const timer = setTimeout(() => socket.destroy(new Error(`no greeting within ${timeoutMs} ms`)), timeoutMs);
  const where = `the database server ${db.host}:${db.port}`;
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once("connect", resolve);
      socket.once("error", (err) => reject(new CredagentError("unavailable", `cannot reach ${where}: ${describe(err)}`, { cause: err })));
    });
    // Set once connected: before, Bun's node:net may not apply it to the socket.
    socket.setNoDelay(true);
    const channel = new PacketChannel(where);
    const detach = listen(socket, channel, where);
    const first = await channel.receive();
    if (isErr(first.payload)) throw new ServerRefused(parseErr(first.payload), first.payload);
    const greeting = parseGreeting(first.payload);
    if ((greeting.capabilities & REQUIRED) !== REQUIRED)
      throw new CredagentError("upstream_auth", `${where} does not speak the MySQL 4.1 protocol (${greeting.serverVersion})`);
    return { socket, channel, greeting, detach };
  } catch (err) {
    socket.destroy();
    throw err instanceof CredagentError ? err : new CredagentError("unavailable", `${where}: ${describe(err)}`, { cause: err });
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Logs in on a connection openServer made, with the client's flags (those the relay can carry and
 * the server has) and the credential's user and password.
 */
export async function loginServer(
  db: DatabaseConfig,
  hello: ServerHello,
  login: DbLogin,
  request: LoginRequest,
  timeoutMs: number,
): Promise<ServerSession> {
  const where = `the database server ${db.host}:${db.port}`;
  const server = hello.greeting.capabilities;
  let capabilities = ((request.capabilities & RELAYED_CAPS & server & ~Cap.CONNECT_WITH_DB) | (OWN & server) | Cap.LONG_PASSWORD) >>> 0;
  if (request.database && has(server, Cap.CONNECT_WITH_DB)) capabilities = (capabilities | Cap.CONNECT_WITH_DB) >>> 0;
  let socket: net.Socket | tls.TLSSocket = hello.socket;
  let channel = hello.channel;
  let detach = hello.detach;
  const timer = setTimeout(() => socket.destroy(new Error(`the login took over ${timeoutMs} ms`)), timeoutMs);
  let seq = 1;
  try {
    if (db.tls !== "disable") {
      if (!has(server, Cap.SSL))
        throw new CredagentError(
          "upstream_auth",
          `${where} does not offer TLS, and databases.${db.name} has tls = "${db.tls}"; turn TLS on at the server (ssl_cert, ssl_key) or set tls = "disable"`,
        );
      capabilities = (capabilities | Cap.SSL) >>> 0;
      hello.socket.write(packet(seq++, sslRequest(capabilities, request.maxPacket, request.charset)));
      detach();
      socket = await startTls(db, hello.socket);
      socket.setNoDelay(true);
      channel = new PacketChannel(where);
      detach = listen(socket, channel, where);
    }
    const plugin = hello.greeting.authPlugin === CACHING_SHA2_PASSWORD ? CACHING_SHA2_PASSWORD : NATIVE_PASSWORD;
    const scramble = hello.greeting.authData;
    const token = firstAnswer(plugin, login.password.bytes(), scramble);
    const body = handshakeResponse({
      capabilities,
      maxPacket: request.maxPacket,
      charset: request.charset,
      user: login.user,
      authResponse: token,
      database: request.database,
      authPlugin: plugin,
      attributes: request.attributes,
    });
    token.fill(0);
    send(socket, packet(seq, body));
    body.fill(0);
    const ok = await authenticate({ channel, send: (b) => send(socket, b) }, { plugin, scramble }, login, {
      encrypted: db.tls !== "disable",
      allowRsaPublicKey: db.allowRsaPublicKey === true,
      where,
      database: db.name,
    });
    detach();
    // Paused until the relay reads it: a chunk arriving in between would have no reader.
    socket.pause();
    return { socket, ok, capabilities, greeting: hello.greeting, encrypted: db.tls !== "disable", rest: channel.rest() };
  } catch (err) {
    detach();
    socket.destroy();
    hello.socket.destroy();
    throw err instanceof CredagentError ? err : new CredagentError("upstream_auth", `${where}: ${describe(err)}`, { cause: err });
  } finally {
    clearTimeout(timer);
  }
}

/** Written, then zeroed once the socket is done with it: it may hold a password or a hash of one. */
function send(socket: net.Socket, bytes: Uint8Array): void {
  const copy = Buffer.from(bytes);
  socket.write(copy, () => copy.fill(0));
}

export interface AuthContext {
  /** TLS to the server: the password may be sent as it is when the server asks for it. */
  encrypted: boolean;
  allowRsaPublicKey: boolean;
  where: string;
  database: string;
}

export interface AuthLink {
  channel: PacketChannel;
  send(packet: Uint8Array): void;
}

/** The auth response for a plugin's first data (a scramble or a nonce); the caller zeroes it. */
export function firstAnswer(plugin: string, password: Uint8Array, data: Uint8Array): Uint8Array {
  if (plugin === NATIVE_PASSWORD) return nativePasswordToken(password, data);
  if (plugin === CACHING_SHA2_PASSWORD) return cachingSha2Token(password, data);
  if (plugin === CLIENT_ED25519) return ed25519Signature(password, data.subarray(0, 32));
  throw new CredagentError("upstream_auth", `the database server asks for the auth plugin '${plugin}', which credagent does not answer`);
}

const MORE_DATA = 0x01;
const AUTH_SWITCH = 0xfe;
const FAST_AUTH_OK = 0x03;
const FULL_AUTH = 0x04;
const REQUEST_PUBLIC_KEY = 0x02;

/**
 * The exchange after the first answer, up to the server's OK (returned) or ERR (ServerRefused).
 * The same for a login and for COM_CHANGE_USER.
 */
export async function authenticate(
  link: AuthLink,
  start: { plugin: string; scramble: Uint8Array },
  login: DbLogin,
  ctx: AuthContext,
): Promise<Uint8Array> {
  let { plugin, scramble } = start;
  let awaitingKey = false;
  for (let round = 0; round < 8; round++) {
    const p = await link.channel.receive();
    const reply = (payload: Uint8Array) => {
      link.send(packet(p.seq + 1, payload));
      payload.fill(0);
    };
    const head = p.payload[0];
    if (isOk(p.payload)) return p.payload;
    if (isErr(p.payload)) throw new ServerRefused(parseErr(p.payload), p.payload);
    if (head === AUTH_SWITCH) {
      ({ plugin, data: scramble } = parseAuthSwitch(p.payload));
      if (plugin === CLEAR_PASSWORD) {
        if (!ctx.encrypted) throw cleartextRefused(ctx);
        reply(nulTerminated(login.password.bytes()));
      } else reply(firstAnswer(plugin, login.password.bytes(), scramble));
      continue;
    }
    if (head === MORE_DATA && plugin === CACHING_SHA2_PASSWORD) {
      if (awaitingKey) {
        const pem = new TextDecoder().decode(p.payload.subarray(1));
        reply(rsaEncryptedPassword(login.password.bytes(), scramble, pem));
        awaitingKey = false;
        continue;
      }
      if (p.payload.length === 2 && p.payload[1] === FAST_AUTH_OK) continue;
      if (p.payload.length === 2 && p.payload[1] === FULL_AUTH) {
        if (ctx.encrypted) reply(nulTerminated(login.password.bytes()));
        else if (ctx.allowRsaPublicKey) {
          reply(Uint8Array.of(REQUEST_PUBLIC_KEY));
          awaitingKey = true;
        } else
          throw new CredagentError(
            "upstream_auth",
            `${ctx.where} wants the password itself (caching_sha2_password full authentication) and the connection is not encrypted; set tls = "verify-full" for databases.${ctx.database}, or allow_rsa_public_key = true to send it encrypted with the server's RSA key`,
          );
        continue;
      }
    }
    throw new CredagentError(
      "upstream_auth",
      `${ctx.where} sent an unexpected packet (0x${(head ?? 0).toString(16)}) during the login (plugin ${plugin})`,
    );
  }
  throw new CredagentError("upstream_auth", `${ctx.where} did not finish the login`);
}

function cleartextRefused(ctx: AuthContext): CredagentError {
  return new CredagentError(
    "upstream_auth",
    `${ctx.where} asks for the password in clear text (mysql_clear_password) over an unencrypted connection; set tls = "verify-full" for databases.${ctx.database}`,
  );
}
