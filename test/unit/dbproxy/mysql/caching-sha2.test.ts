import { afterAll, beforeAll, expect, test } from "bun:test";
import { constants, createHash, generateKeyPairSync, privateDecrypt, timingSafeEqual } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import net from "node:net";
import { join } from "node:path";
import tls from "node:tls";
import mysql from "mysql2";
import type { DatabaseConfig } from "../../../../src/config/databases.ts";
import { PacketChannel } from "../../../../src/dbproxy/mysql/channel.ts";
import {
  CACHING_SHA2_PASSWORD,
  Cap,
  greeting,
  NATIVE_PASSWORD,
  parseHandshakeResponse,
  isSslRequest,
} from "../../../../src/dbproxy/mysql/messages.ts";
import { packet } from "../../../../src/dbproxy/mysql/packets.ts";
import { loginServer, openServer } from "../../../../src/dbproxy/mysql/upstream.ts";
import { Secret } from "../../../../src/secret.ts";

// MariaDB has no caching_sha2_password (MySQL 8's default), so this exchange is tested against a
// small server written from the plugin's description (dev.mysql.com "caching_sha2_password
// information exchange"): the server keeps SHA256(SHA256(password)) and checks the fast-auth token
// by XOR with SHA256(that, scramble); full authentication takes the password over TLS, or
// encrypted to its RSA key (OAEP, SHA-1) XOR the scramble. The fake is first checked with mysql2's
// own client, then the proxy's login is run against it in each mode.

const PASSWORD = "a rotating password, 2025";
const stored = createHash("sha256").update(createHash("sha256").update(PASSWORD).digest()).digest();
const { publicKey, privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
const PEM = publicKey.export({ type: "spki", format: "pem" }).toString();

type Mode = "fast" | "full" | "switch";
interface Outcome {
  passed: boolean;
  how: string;
}

let certs: string;
const servers: net.Server[] = [];
beforeAll(() => {
  certs = mkdtempSync("/tmp/ca-sha2-");
  const r = Bun.spawnSync(
    [
      "openssl",
      "req",
      "-x509",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-keyout",
      "key.pem",
      "-out",
      "cert.pem",
      "-days",
      "1",
      "-subj",
      "/CN=127.0.0.1",
    ],
    { cwd: certs, stdout: "pipe", stderr: "pipe" },
  );
  if (r.exitCode !== 0) throw new Error(r.stderr.toString());
});
afterAll(() => {
  for (const s of servers) s.close();
  rmSync(certs, { recursive: true, force: true });
});

/**
 * A one-user server: `mode` says whether its cache knows the user (fast) or not (full), or whether
 * its greeting names another plugin first (switch). TLS: after the client's SSLRequest the bytes go
 * on to a node:tls server of its own (Bun's node:tls cannot take over an accepted socket).
 */
async function fakeServer(mode: Mode, withTls: boolean): Promise<{ port: number; outcomes: Outcome[] }> {
  const outcomes: Outcome[] = [];
  const scramble = Buffer.from("abcdefghijklmnopqrst");
  const listening = (s: net.Server) =>
    new Promise<number>((resolve) => s.listen(0, "127.0.0.1", () => resolve((s.address() as net.AddressInfo).port)));
  const channelOf = (socket: net.Socket) => {
    const channel = new PacketChannel("client");
    socket.on("data", (b: Buffer) => channel.push(b));
    socket.on("error", () => {});
    return channel;
  };

  /** From the client's handshake response to the OK or ERR. */
  const converse = async (socket: net.Socket, channel: PacketChannel, encrypted: boolean) => {
    const ok = (seq: number) => socket.write(packet(seq, Uint8Array.of(0, 0, 0, 2, 0, 0, 0)));
    const fail = (seq: number, how: string) => {
      outcomes.push({ passed: false, how });
      socket.end(packet(seq, Uint8Array.of(0xff, 0x15, 0x04, ...Buffer.from("#28000Access denied"))));
    };
    let p = await channel.receive();
    const response = parseHandshakeResponse(p.payload);
    let token = Buffer.from(response.authResponse);
    let seq = p.seq + 1;
    if (mode === "switch") {
      socket.write(
        packet(seq, Buffer.concat([Buffer.from([0xfe]), Buffer.from(`${CACHING_SHA2_PASSWORD}\0`), scramble, Buffer.from([0])])),
      );
      p = await channel.receive();
      token = Buffer.from(p.payload);
      seq = p.seq + 1;
    }
    if (mode !== "full") {
      // Fast authentication: SHA256(pw) = token XOR SHA256(stored, scramble); its SHA256 must be stored.
      const mask = createHash("sha256").update(stored).update(scramble).digest();
      const stage1 = Buffer.from(token.map((b, i) => b ^ mask[i]!));
      const good = token.length === 32 && timingSafeEqual(createHash("sha256").update(stage1).digest(), stored);
      if (!good) return fail(seq, "fast token wrong");
      socket.write(packet(seq, Uint8Array.of(0x01, 0x03)));
      outcomes.push({ passed: true, how: "fast" });
      return ok(seq + 1);
    }
    socket.write(packet(seq, Uint8Array.of(0x01, 0x04)));
    p = await channel.receive();
    if (encrypted) {
      if (Buffer.from(p.payload).toString() !== `${PASSWORD}\0`) return fail(p.seq + 1, "cleartext wrong");
      outcomes.push({ passed: true, how: "full over TLS" });
      return ok(p.seq + 1);
    }
    if (p.payload.length !== 1 || p.payload[0] !== 0x02) return fail(p.seq + 1, "no key request");
    socket.write(packet(p.seq + 1, Buffer.concat([Buffer.from([0x01]), Buffer.from(PEM)])));
    p = await channel.receive();
    const opened = privateDecrypt({ key: privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: "sha1" }, p.payload);
    for (let i = 0; i < opened.length; i++) opened[i]! ^= scramble[i % 20]!;
    if (opened.toString() !== `${PASSWORD}\0`) return fail(p.seq + 1, "rsa password wrong");
    outcomes.push({ passed: true, how: "full with the RSA key" });
    ok(p.seq + 1);
  };

  const tlsServer = tls.createServer(
    { key: readFileSync(join(certs, "key.pem")), cert: readFileSync(join(certs, "cert.pem")) },
    (secure) => {
      converse(secure, channelOf(secure), true).catch(() => secure.destroy());
    },
  );
  servers.push(tlsServer);
  const tlsPort = await listening(tlsServer);
  const server = net.createServer((raw) => {
    const caps =
      (Cap.LONG_PASSWORD |
        Cap.PROTOCOL_41 |
        Cap.SECURE_CONNECTION |
        Cap.PLUGIN_AUTH |
        Cap.CONNECT_ATTRS |
        Cap.CONNECT_WITH_DB |
        Cap.PLUGIN_AUTH_LENENC_CLIENT_DATA |
        (withTls ? Cap.SSL : 0)) >>>
      0;
    const plugin = mode === "switch" ? NATIVE_PASSWORD : CACHING_SHA2_PASSWORD;
    raw.write(
      packet(
        0,
        greeting({
          serverVersion: "8.0.36-fake",
          connectionId: 9,
          capabilities: caps,
          charset: 255,
          status: 2,
          authData: scramble,
          authPlugin: plugin,
        }),
      ),
    );
    // The first packet decides: an SSLRequest hands the connection to the TLS server, bytes as they come.
    let first = Buffer.alloc(0);
    const onFirst = (b: Buffer) => {
      first = Buffer.concat([first, b]);
      if (first.length < 4 || first.length < 4 + first.readUIntLE(0, 3)) return;
      raw.off("data", onFirst);
      if (isSslRequest(first.subarray(4, 4 + first.readUIntLE(0, 3)))) {
        const inner = net.connect(tlsPort, "127.0.0.1");
        inner.on("error", () => raw.destroy());
        raw.on("error", () => inner.destroy());
        inner.write(first.subarray(4 + first.readUIntLE(0, 3)));
        raw.pipe(inner);
        inner.pipe(raw);
        return;
      }
      const channel = new PacketChannel("client");
      raw.on("data", (more: Buffer) => channel.push(more));
      channel.push(first);
      converse(raw, channel, false).catch(() => raw.destroy());
    };
    raw.on("data", onFirst);
    raw.on("error", () => {});
  });
  servers.push(server);
  return { port: await listening(server), outcomes };
}

function db(port: number, tlsMode: "disable" | "require", allowRsaPublicKey = false): DatabaseConfig {
  return {
    name: "fake",
    credential: "c",
    protocol: "mysql",
    databases: ["fake"],
    host: "127.0.0.1",
    port,
    tls: tlsMode,
    ...(allowRsaPublicKey ? { allowRsaPublicKey } : {}),
  };
}

const request = {
  capabilities: (Cap.PROTOCOL_41 | Cap.SECURE_CONNECTION) >>> 0,
  maxPacket: 1 << 24,
  charset: 45,
  database: null,
  attributes: [],
};

async function proxyLogin(config: DatabaseConfig, password = PASSWORD) {
  const hello = await openServer(config, 5_000);
  const session = await loginServer(config, hello, { user: "u", password: new Secret(password) }, request, 5_000);
  session.socket.destroy();
  return session;
}

function mysql2Login(port: number, options: Record<string, unknown> = {}): Promise<string | null> {
  return new Promise((resolve) => {
    const c = mysql.createConnection({ host: "127.0.0.1", port, user: "u", password: PASSWORD, ...options });
    c.connect((err) => {
      c.destroy();
      resolve(err ? err.message : null);
    });
  });
}

test("the fake server is what mysql2's client expects: fast, full with the RSA key, full over TLS", async () => {
  const fast = await fakeServer("fast", false);
  expect(await mysql2Login(fast.port)).toBeNull();
  const full = await fakeServer("full", false);
  expect(await mysql2Login(full.port, { allowPublicKeyRetrieval: true })).toBeNull();
  const overTls = await fakeServer("full", true);
  expect(await mysql2Login(overTls.port, { ssl: { rejectUnauthorized: false } })).toBeNull();
  expect([...fast.outcomes, ...full.outcomes, ...overTls.outcomes].map((o) => o.how)).toEqual([
    "fast",
    "full with the RSA key",
    "full over TLS",
  ]);
});

test("the proxy's login: fast authentication, and after an auth switch to caching_sha2_password", async () => {
  const fast = await fakeServer("fast", false);
  await proxyLogin(db(fast.port, "disable"));
  const switched = await fakeServer("switch", false);
  await proxyLogin(db(switched.port, "disable"));
  expect([...fast.outcomes, ...switched.outcomes]).toEqual([
    { passed: true, how: "fast" },
    { passed: true, how: "fast" },
  ]);
  const wrong = await fakeServer("fast", false);
  await expect(proxyLogin(db(wrong.port, "disable"), "not it")).rejects.toThrow(/refused the login: Access denied/);
});

test("full authentication: the password over TLS; without TLS only with allow_rsa_public_key, encrypted to the server's key", async () => {
  const overTls = await fakeServer("full", true);
  await proxyLogin(db(overTls.port, "require"));
  expect(overTls.outcomes).toEqual([{ passed: true, how: "full over TLS" }]);
  const refused = await fakeServer("full", false);
  await expect(proxyLogin(db(refused.port, "disable"))).rejects.toThrow(/allow_rsa_public_key = true/);
  expect(refused.outcomes).toEqual([]);
  const rsa = await fakeServer("full", false);
  await proxyLogin(db(rsa.port, "disable", true));
  expect(rsa.outcomes).toEqual([{ passed: true, how: "full with the RSA key" }]);
});
