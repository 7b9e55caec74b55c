// The connection-phase messages the proxy reads and writes (page_protocol_connection_phase):
// the server's greeting (Handshake v10), the client's answer (HandshakeResponse41, SSLRequest),
// OK and ERR, the auth-switch request, and COM_CHANGE_USER. Only protocol 4.1 is spoken: every
// server and client since MySQL 4.1 (2004) and every MariaDB has it.

import { ByteReader, ByteWriter, MalformedPacket, text } from "./bytes.ts";
import { packet } from "./packets.ts";

/** Capability flags (page_protocol_basic_capabilities), as unsigned 32-bit numbers. */
export const Cap = {
  /** CLIENT_LONG_PASSWORD; MariaDB reads it as CLIENT_MYSQL: unset, the greeting carries MariaDB's own extended flags. */
  LONG_PASSWORD: 1,
  FOUND_ROWS: 2,
  LONG_FLAG: 4,
  CONNECT_WITH_DB: 8,
  NO_SCHEMA: 16,
  COMPRESS: 32,
  ODBC: 64,
  LOCAL_FILES: 128,
  IGNORE_SPACE: 256,
  PROTOCOL_41: 512,
  INTERACTIVE: 1024,
  SSL: 2048,
  IGNORE_SIGPIPE: 4096,
  TRANSACTIONS: 8192,
  SECURE_CONNECTION: 32768,
  MULTI_STATEMENTS: 1 << 16,
  MULTI_RESULTS: 1 << 17,
  PS_MULTI_RESULTS: 1 << 18,
  PLUGIN_AUTH: 1 << 19,
  CONNECT_ATTRS: 1 << 20,
  PLUGIN_AUTH_LENENC_CLIENT_DATA: 1 << 21,
  CAN_HANDLE_EXPIRED_PASSWORDS: 1 << 22,
  SESSION_TRACK: 1 << 23,
  DEPRECATE_EOF: 1 << 24,
  OPTIONAL_RESULTSET_METADATA: 1 << 25,
  ZSTD_COMPRESSION: 1 << 26,
  QUERY_ATTRIBUTES: 1 << 27,
  MULTI_FACTOR_AUTHENTICATION: 1 << 28,
  CAPABILITY_EXTENSION: 1 << 29,
  SSL_VERIFY_SERVER_CERT: 1 << 30,
  REMEMBER_OPTIONS: 2 ** 31,
} as const;

export function has(flags: number, cap: number): boolean {
  return (flags & cap) !== 0;
}

/** Flags that only change what the server sends or accepts after the login, which the relay copies whatever they say. */
export const RELAYED_CAPS =
  (Cap.FOUND_ROWS |
    Cap.LONG_FLAG |
    Cap.CONNECT_WITH_DB |
    Cap.NO_SCHEMA |
    Cap.ODBC |
    Cap.LOCAL_FILES |
    Cap.IGNORE_SPACE |
    Cap.INTERACTIVE |
    Cap.IGNORE_SIGPIPE |
    Cap.TRANSACTIONS |
    Cap.MULTI_STATEMENTS |
    Cap.MULTI_RESULTS |
    Cap.PS_MULTI_RESULTS |
    Cap.SESSION_TRACK |
    Cap.DEPRECATE_EOF |
    Cap.OPTIONAL_RESULTSET_METADATA |
    Cap.QUERY_ATTRIBUTES |
    Cap.REMEMBER_OPTIONS) >>>
  0;

export const NATIVE_PASSWORD = "mysql_native_password";
export const CACHING_SHA2_PASSWORD = "caching_sha2_password";
export const CLIENT_ED25519 = "client_ed25519";
export const CLEAR_PASSWORD = "mysql_clear_password";

export interface Greeting {
  serverVersion: string;
  connectionId: number;
  capabilities: number;
  charset: number;
  status: number;
  /** The scramble (auth-plugin-data, both parts, without the trailing NUL). */
  authData: Uint8Array;
  authPlugin: string;
}

export function parseGreeting(payload: Uint8Array): Greeting {
  const r = new ByteReader(payload);
  const version = r.int(1);
  if (version !== 10) throw new MalformedPacket(`protocol version ${version}, not 10`);
  const serverVersion = r.nulString();
  const connectionId = r.int(4);
  const part1 = r.take(8);
  r.take(1);
  let capabilities = r.int(2);
  let charset = 0;
  let status = 0;
  let authData: Uint8Array = part1.slice();
  let authPlugin = NATIVE_PASSWORD;
  if (r.left > 0) {
    charset = r.int(1);
    status = r.int(2);
    capabilities = (capabilities | (r.int(2) << 16)) >>> 0;
    const dataLength = r.int(1);
    r.take(10);
    if (has(capabilities, Cap.SECURE_CONNECTION)) {
      const part2 = r.take(Math.max(13, dataLength - 8));
      // Part 2 ends in a NUL that is not part of the scramble (the 20 bytes are what is hashed).
      const end = part2.length > 0 && part2[part2.length - 1] === 0 ? part2.length - 1 : part2.length;
      authData = concat(part1, part2.subarray(0, end));
    }
    if (has(capabilities, Cap.PLUGIN_AUTH) && r.left > 0) authPlugin = r.nulString(true);
  }
  return { serverVersion, connectionId, capabilities, charset, status, authData, authPlugin };
}

/** The greeting the proxy sends its client: 20 bytes of scramble, the plugin named. */
export function greeting(g: Greeting): Uint8Array {
  if (g.authData.length !== 20) throw new Error("the scramble must be 20 bytes");
  return new ByteWriter()
    .int(1, 10)
    .nulString(g.serverVersion)
    .int(4, g.connectionId)
    .bytes(g.authData.subarray(0, 8))
    .int(1, 0)
    .int(2, g.capabilities & 0xffff)
    .int(1, g.charset)
    .int(2, g.status)
    .int(2, g.capabilities >>> 16)
    .int(1, 21)
    .zeros(10)
    .bytes(g.authData.subarray(8))
    .int(1, 0)
    .nulString(g.authPlugin)
    .done();
}

export interface HandshakeResponse {
  capabilities: number;
  maxPacket: number;
  charset: number;
  user: string;
  /** What the client computed from its password, if it has one: never used, zeroed by the caller. */
  authResponse: Uint8Array;
  database: string | null;
  authPlugin: string | null;
  attributes: Array<[string, string]>;
}

/** Payload of 32 bytes with CLIENT_SSL: the client asks for TLS before the rest of its answer. */
export function isSslRequest(payload: Uint8Array): boolean {
  return payload.length === 32 && has(new ByteReader(payload).int(4), Cap.SSL);
}

export function parseHandshakeResponse(payload: Uint8Array): HandshakeResponse {
  const r = new ByteReader(payload);
  const capabilities = r.int(4);
  if (!has(capabilities, Cap.PROTOCOL_41)) throw new MalformedPacket("the client does not speak protocol 4.1");
  const maxPacket = r.int(4);
  const charset = r.int(1);
  r.take(23);
  const user = r.nulString();
  let authResponse: Uint8Array;
  if (has(capabilities, Cap.PLUGIN_AUTH_LENENC_CLIENT_DATA)) authResponse = r.lenencBytes();
  else if (has(capabilities, Cap.SECURE_CONNECTION)) authResponse = r.take(r.int(1));
  else authResponse = r.nulBytes();
  const database = has(capabilities, Cap.CONNECT_WITH_DB) && r.left > 0 ? r.nulString(true) : null;
  const authPlugin = has(capabilities, Cap.PLUGIN_AUTH) && r.left > 0 ? r.nulString(true) : null;
  const attributes = has(capabilities, Cap.CONNECT_ATTRS) && r.left > 0 ? parseAttributes(r) : [];
  return { capabilities, maxPacket, charset, user, authResponse, database: database || null, authPlugin, attributes };
}

function parseAttributes(r: ByteReader): Array<[string, string]> {
  const block = new ByteReader(r.lenencBytes());
  const out: Array<[string, string]> = [];
  while (block.left > 0) {
    const key = new TextDecoder().decode(block.lenencBytes());
    out.push([key, new TextDecoder().decode(block.lenencBytes())]);
  }
  return out;
}

function attributesBlock(attributes: Array<[string, string]>): Uint8Array {
  const w = new ByteWriter();
  for (const [k, v] of attributes) w.lenencBytes(text(k)).lenencBytes(text(v));
  return w.done();
}

/** The first 32 bytes of a HandshakeResponse41: SSLRequest, or the head of the whole answer. */
function responseHead(capabilities: number, maxPacket: number, charset: number): ByteWriter {
  return new ByteWriter().int(4, capabilities).int(4, maxPacket).int(1, charset).zeros(23);
}

export function sslRequest(capabilities: number, maxPacket: number, charset: number): Uint8Array {
  return responseHead((capabilities | Cap.SSL) >>> 0, maxPacket, charset).done();
}

/** The proxy's answer to the server's greeting; `authResponse` is the caller's to zero. */
export function handshakeResponse(h: HandshakeResponse): Uint8Array {
  const w = responseHead(h.capabilities, h.maxPacket, h.charset).nulString(h.user);
  if (has(h.capabilities, Cap.PLUGIN_AUTH_LENENC_CLIENT_DATA)) w.lenencBytes(h.authResponse);
  else {
    if (h.authResponse.length > 255) throw new MalformedPacket("an auth response over 255 bytes needs PLUGIN_AUTH_LENENC_CLIENT_DATA");
    w.int(1, h.authResponse.length).bytes(h.authResponse);
  }
  if (has(h.capabilities, Cap.CONNECT_WITH_DB)) w.nulString(h.database ?? "");
  if (has(h.capabilities, Cap.PLUGIN_AUTH)) w.nulString(h.authPlugin ?? "");
  if (has(h.capabilities, Cap.CONNECT_ATTRS)) w.lenencBytes(attributesBlock(h.attributes));
  return w.done();
}

export interface ChangeUser {
  user: string;
  authResponse: Uint8Array;
  database: string | null;
  charset: number | null;
  authPlugin: string | null;
  attributes: Array<[string, string]>;
}

/** COM_CHANGE_USER (page_protocol_com_change_user), as the client's capabilities shape it. */
export function parseChangeUser(payload: Uint8Array, capabilities: number): ChangeUser {
  const r = new ByteReader(payload);
  if (r.int(1) !== 0x11) throw new MalformedPacket("not COM_CHANGE_USER");
  const user = r.nulString();
  const authResponse = has(capabilities, Cap.SECURE_CONNECTION) ? r.take(r.int(1)) : r.nulBytes();
  const database = r.nulString(true);
  const charset = r.left >= 2 ? r.int(2) : null;
  const authPlugin = has(capabilities, Cap.PLUGIN_AUTH) && r.left > 0 ? r.nulString(true) : null;
  const attributes = has(capabilities, Cap.CONNECT_ATTRS) && r.left > 0 ? parseAttributes(r) : [];
  return { user, authResponse, database: database || null, charset, authPlugin, attributes };
}

export function changeUser(c: ChangeUser, capabilities: number): Uint8Array {
  if (c.authResponse.length > 255) throw new MalformedPacket("an auth response over 255 bytes");
  const w = new ByteWriter().int(1, 0x11).nulString(c.user).int(1, c.authResponse.length).bytes(c.authResponse);
  w.nulString(c.database ?? "").int(2, c.charset ?? 0);
  if (has(capabilities, Cap.PLUGIN_AUTH)) w.nulString(c.authPlugin ?? "");
  if (has(capabilities, Cap.CONNECT_ATTRS)) w.lenencBytes(attributesBlock(c.attributes));
  return w.done();
}

export function isOk(payload: Uint8Array): boolean {
  return payload[0] === 0x00;
}

export function isErr(payload: Uint8Array): boolean {
  return payload[0] === 0xff;
}

export interface ServerError {
  code: number;
  sqlState: string | null;
  message: string;
}

export function parseErr(payload: Uint8Array): ServerError {
  const r = new ByteReader(payload);
  r.int(1);
  const code = r.int(2);
  let sqlState: string | null = null;
  if (r.left >= 6 && r.bytes[r.at] === 0x23) {
    r.take(1);
    sqlState = new TextDecoder().decode(r.take(5));
  }
  return { code, sqlState, message: new TextDecoder().decode(r.rest()) };
}

/** ER_ACCESS_DENIED_ERROR: what a server answers a wrong password, and what the proxy answers a refused client. */
export const ACCESS_DENIED = 1045;

/** An ERR packet's payload; SQLSTATE 28000 (invalid authorization) unless told. */
export function errPayload(message: string, code = ACCESS_DENIED, sqlState = "28000"): Uint8Array {
  return new ByteWriter()
    .int(1, 0xff)
    .int(2, code)
    .bytes(text(`#${sqlState}`))
    .bytes(text(message))
    .done();
}

/** A whole ERR packet (header included), 1045 / 28000 unless told. */
export function errorPacket(seq: number, message: string, code = ACCESS_DENIED, sqlState = "28000"): Uint8Array {
  return packet(seq, errPayload(message, code, sqlState));
}

/**
 * An auth-switch request (0xFE): the plugin the server wants and its data, as sent (a scramble:
 * mysql_native_password's 20 bytes are followed by a NUL, client_ed25519's 32 are not; each
 * plugin takes what it needs).
 */
export function parseAuthSwitch(payload: Uint8Array): { plugin: string; data: Uint8Array } {
  const r = new ByteReader(payload);
  r.int(1);
  if (r.left === 0) throw new MalformedPacket("an old-style auth switch (pre-4.1 passwords), which credagent does not answer");
  const plugin = r.nulString(true);
  return { plugin, data: r.rest() };
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}
