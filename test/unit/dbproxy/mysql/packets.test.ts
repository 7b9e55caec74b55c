import { expect, test } from "bun:test";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { COM_CHANGE_USER, CommandScanner } from "../../../../src/dbproxy/mysql/commands.ts";
import {
  Cap,
  changeUser,
  errPayload,
  greeting,
  handshakeResponse,
  parseChangeUser,
  parseErr,
  parseGreeting,
  parseHandshakeResponse,
} from "../../../../src/dbproxy/mysql/messages.ts";
import { MAX_PACKET_PAYLOAD, packet, PacketReader } from "../../../../src/dbproxy/mysql/packets.ts";

// The framing and the connection-phase messages, each read back by mysql2's own packet classes
// (the code its client and its server speak with) where mysql2 has one.
const require = createRequire(import.meta.url);
const mysql2 = dirname(require.resolve("mysql2/package.json"));
const Packet = require(join(mysql2, "lib/packets/packet.js"));
const Handshake = require(join(mysql2, "lib/packets/handshake.js"));
const HandshakeResponse = require(join(mysql2, "lib/packets/handshake_response.js"));
const ChangeUser = require(join(mysql2, "lib/packets/change_user.js"));

const mysql2Packet = (bytes: Uint8Array) => new Packet(bytes[3], Buffer.from(bytes), 0, bytes.length);

test("packets come whole however the bytes are cut; the limit is enforced before the payload arrives", () => {
  const reader = new PacketReader(100);
  const stream = new Uint8Array([...packet(0, Uint8Array.of(1, 2, 3)), ...packet(1, new Uint8Array(0)), ...packet(7, Uint8Array.of(9))]);
  const got: Array<[number, number[]]> = [];
  for (const byte of stream) {
    reader.push(Uint8Array.of(byte));
    for (let s = reader.next(); s.kind === "packet"; s = reader.next()) got.push([s.packet.seq, [...s.packet.payload]]);
  }
  expect(got).toEqual([
    [0, [1, 2, 3]],
    [1, []],
    [7, [9]],
  ]);
  const big = new PacketReader(10);
  big.push(Uint8Array.of(11, 0, 0, 0));
  expect(big.next()).toEqual({ kind: "error", message: "a packet of 11 bytes, over the 10 allowed here" });
  const rest = new PacketReader(100);
  rest.push(new Uint8Array([...packet(0, Uint8Array.of(5)), 0xaa, 0xbb]));
  expect(rest.next().kind).toBe("packet");
  expect([...rest.rest()]).toEqual([0xaa, 0xbb]);
});

test("the greeting: mysql2's client reads what the proxy sends; the proxy reads what mysql2's server sends", () => {
  const scramble = Uint8Array.from({ length: 20 }, (_, i) => i + 65);
  const caps =
    (Cap.LONG_PASSWORD | Cap.PROTOCOL_41 | Cap.SECURE_CONNECTION | Cap.PLUGIN_AUTH | Cap.CONNECT_ATTRS | Cap.DEPRECATE_EOF) >>> 0;
  const bytes = packet(
    0,
    greeting({
      serverVersion: "5.5.5-10.11.19-MariaDB",
      connectionId: 77,
      capabilities: caps,
      charset: 45,
      status: 2,
      authData: scramble,
      authPlugin: "mysql_native_password",
    }),
  );
  const theirs = Handshake.fromPacket(mysql2Packet(bytes));
  expect(theirs.serverVersion).toBe("5.5.5-10.11.19-MariaDB");
  expect(theirs.connectionId).toBe(77);
  expect(theirs.capabilityFlags).toBe(caps);
  expect(theirs.characterSet).toBe(45);
  expect(theirs.authPluginName).toBe("mysql_native_password");
  expect(Buffer.concat([theirs.authPluginData1, theirs.authPluginData2.subarray(0, 12)]).toString()).toBe(Buffer.from(scramble).toString());
  const fromServer = new Handshake({
    protocolVersion: 10,
    serverVersion: "8.0.36",
    capabilityFlags: 0xffffffff,
    connectionId: 5,
    authPluginData1: Buffer.from(scramble.subarray(0, 8)),
    authPluginData2: Buffer.from(scramble.subarray(8)),
    characterSet: 255,
    statusFlags: 2,
  }).toPacket(0);
  const mine = parseGreeting(fromServer.buffer.subarray(4));
  expect(mine).toMatchObject({
    serverVersion: "8.0.36",
    connectionId: 5,
    capabilities: 0xffffffff,
    charset: 255,
    authPlugin: "mysql_native_password",
  });
  expect(Buffer.from(mine.authData).toString()).toBe(Buffer.from(scramble).toString());
});

test("the handshake response: each side reads the other's, attributes and database included", () => {
  const caps =
    (Cap.PROTOCOL_41 |
      Cap.SECURE_CONNECTION |
      Cap.PLUGIN_AUTH |
      Cap.PLUGIN_AUTH_LENENC_CLIENT_DATA |
      Cap.CONNECT_ATTRS |
      Cap.CONNECT_WITH_DB) >>>
    0;
  const mine = handshakeResponse({
    capabilities: caps,
    maxPacket: 1 << 24,
    charset: 45,
    user: "app",
    authResponse: Uint8Array.of(1, 2, 3),
    database: "shop",
    authPlugin: "mysql_native_password",
    attributes: [
      ["program_name", "credagent:psql[12]"],
      ["_pid", "12"],
    ],
  });
  const theirs = HandshakeResponse.fromPacket(mysql2Packet(packet(1, mine)));
  expect(theirs).toMatchObject({
    user: "app",
    database: "shop",
    authPluginName: "mysql_native_password",
    connectAttributes: { program_name: "credagent:psql[12]", _pid: "12" },
  });
  expect([...theirs.authToken]).toEqual([1, 2, 3]);
  const fromClient = new HandshakeResponse({
    flags: caps,
    user: "someone",
    database: "db",
    password: "pw",
    authPluginData1: Buffer.alloc(8),
    authPluginData2: Buffer.alloc(12),
    charsetNumber: 224,
    connectAttributes: { _client_name: "Node-MySQL-2" },
  }).toPacket();
  const parsed = parseHandshakeResponse(fromClient.buffer.subarray(4));
  expect(parsed).toMatchObject({
    user: "someone",
    database: "db",
    charset: 224,
    authPlugin: "mysql_native_password",
    attributes: [["_client_name", "Node-MySQL-2"]],
  });
  expect(parsed.authResponse.length).toBe(20);
});

test("COM_CHANGE_USER: mysql2's is read; the proxy's is the same shape", () => {
  const caps = (Cap.PROTOCOL_41 | Cap.SECURE_CONNECTION | Cap.PLUGIN_AUTH | Cap.CONNECT_ATTRS) >>> 0;
  const theirs = new ChangeUser({
    flags: caps,
    user: "root",
    database: "app",
    charsetNumber: 33,
    password: "guess",
    authPluginData1: Buffer.alloc(8),
    authPluginData2: Buffer.alloc(12),
    connectAttributes: { a: "b" },
  }).toPacket();
  const parsed = parseChangeUser(theirs.buffer.subarray(4), caps);
  expect(parsed).toMatchObject({
    user: "root",
    database: "app",
    charset: 33,
    authPlugin: "mysql_native_password",
    attributes: [["a", "b"]],
  });
  const again = parseChangeUser(changeUser({ ...parsed, user: "app" }, caps), caps);
  expect(again).toMatchObject({ user: "app", database: "app", charset: 33, authPlugin: "mysql_native_password", attributes: [["a", "b"]] });
});

test("ERR packets: SQLSTATE and message round-trip", () => {
  expect(parseErr(errPayload("credagent: no"))).toEqual({ code: 1045, sqlState: "28000", message: "credagent: no" });
});

test("the command scanner finds COM_CHANGE_USER wherever the chunks cut it, and not inside an upload that wrapped its sequence numbers", () => {
  const query = packet(0, new Uint8Array([0x03, ...new TextEncoder().encode("SELECT 1")]));
  const change = packet(0, Uint8Array.of(COM_CHANGE_USER, 0x61, 0));
  const stream = new Uint8Array([...query, ...change]);
  for (let cut = 0; cut <= stream.length; cut++) {
    const scanner = new CommandScanner((c) => c === COM_CHANGE_USER);
    const a = scanner.scan(stream.subarray(0, cut));
    scanner.serverSpoke();
    const b = a.intercepted ? null : scanner.scan(stream.subarray(cut));
    const passed = [...a.pass, ...(b?.pass ?? [])];
    // Intercepted: from the command's first byte to the chunk's end (the rest is the caller's to collect).
    const intercepted = a.intercepted ? [...a.intercepted, ...stream.subarray(cut)] : b?.intercepted;
    expect(passed).toEqual([...query]);
    expect([...(intercepted ?? [])]).toEqual([...change]);
  }
  // LOAD DATA LOCAL INFILE: packets 2..255, then 0 again, with no word from the server: data, not a command.
  const scanner = new CommandScanner((c) => c === COM_CHANGE_USER);
  scanner.scan(packet(0, Uint8Array.of(0x03, 0x4c)));
  scanner.serverSpoke();
  for (let seq = 2; seq <= 255; seq++) expect(scanner.scan(packet(seq, Uint8Array.of(0x11))).intercepted).toBeNull();
  expect(scanner.scan(packet(0, Uint8Array.of(0x11, 0x11))).intercepted).toBeNull();
  // A payload of exactly MAX_PACKET_PAYLOAD continues in the next packet, whatever its first byte.
  const long = new CommandScanner((c) => c === COM_CHANGE_USER);
  const header = Uint8Array.of(0xff, 0xff, 0xff, 0, 0x03);
  expect(long.scan(header).intercepted).toBeNull();
  long.scan(new Uint8Array(MAX_PACKET_PAYLOAD - 1));
  long.serverSpoke();
  expect(long.scan(packet(1, Uint8Array.of(0x11))).intercepted).toBeNull();
});
