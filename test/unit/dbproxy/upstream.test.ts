import { afterEach, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import net from "node:net";
import { networkInterfaces } from "node:os";
import type { DatabaseConfig } from "../../../src/config/databases.ts";
import { connectUpstream } from "../../../src/dbproxy/upstream.ts";
import { Secret } from "../../../src/secret.ts";

// A fake server that asks for one kind of password and records what came back: MD5 and cleartext,
// which the real-server tests (scram-sha-256) do not reach.

const servers: net.Server[] = [];
afterEach(() => {
  for (const s of servers.splice(0)) s.close();
});

function message(type: string, body: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeInt32BE(body.length + 4);
  return Buffer.concat([Buffer.from(type), len, body]);
}
const auth = (code: number, extra = Buffer.alloc(0)) => {
  const c = Buffer.alloc(4);
  c.writeInt32BE(code);
  return message("R", Buffer.concat([c, extra]));
};

async function fakeServer(
  ask: Buffer,
  bind = "127.0.0.1",
): Promise<{ port: number; received: Promise<{ startup: Buffer; password: Buffer }> }> {
  let done!: (v: { startup: Buffer; password: Buffer }) => void;
  const received = new Promise<{ startup: Buffer; password: Buffer }>((r) => (done = r));
  const server = net.createServer((socket) => {
    let buffered = Buffer.alloc(0);
    let startup: Buffer | undefined;
    socket.on("data", (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      if (!startup && buffered.length >= 4 && buffered.length >= buffered.readInt32BE(0)) {
        startup = buffered.subarray(0, buffered.readInt32BE(0));
        buffered = buffered.subarray(startup.length);
        socket.write(ask);
      }
      if (startup && buffered.length >= 5 && buffered.length >= 1 + buffered.readInt32BE(1)) {
        const password = buffered.subarray(5, 1 + buffered.readInt32BE(1));
        done({ startup, password });
        socket.write(Buffer.concat([auth(0), message("Z", Buffer.from("I"))]));
      }
    });
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, bind, r));
  return { port: (server.address() as net.AddressInfo).port, received };
}

const db = (port: number, host = "127.0.0.1"): DatabaseConfig => ({
  name: "t",
  databases: ["t"],
  credential: "c",
  protocol: "postgresql",
  host,
  port,
  tls: "disable",
  user: "app",
});

test("MD5: md5(md5(password + user) + salt), the startup with the credential's user; AuthenticationOk and what follows go to the client", async () => {
  const salt = Buffer.from([1, 2, 3, 4]);
  const server = await fakeServer(auth(5, salt));
  const up = await connectUpstream(db(server.port), { user: "app", password: new Secret("s3cret") }, new Map([["database", "app"]]), 5_000);
  const { startup, password } = await server.received;
  expect(startup.toString()).toContain("database\0app\0user\0app\0");
  const inner = createHash("md5").update("s3cretapp").digest("hex");
  expect(password.toString()).toBe(`md5${createHash("md5").update(inner).update(salt).digest("hex")}\0`);
  await Bun.sleep(50);
  expect(up.first.subarray(0, 9)).toEqual(auth(0));
  up.socket.destroy();
});

test("cleartext: answered to a server on loopback without TLS", async () => {
  const server = await fakeServer(auth(3));
  const up = await connectUpstream(db(server.port), { user: "app", password: new Secret("tok") }, new Map(), 5_000);
  expect((await server.received).password.toString()).toBe("tok\0");
  up.socket.destroy();
});

// This machine's own non-loopback address stands for a remote server.
const external = Object.values(networkInterfaces())
  .flat()
  .find((a) => a && a.family === "IPv4" && !a.internal)?.address;
test.skipIf(!external)("cleartext is refused over plain TCP to a server not on loopback: the password is not sent", async () => {
  const other = await fakeServer(auth(3), "0.0.0.0");
  let sent = false;
  void other.received.then(() => (sent = true));
  const refused = connectUpstream(db(other.port, external!), { user: "app", password: new Secret("tok") }, new Map(), 5_000);
  await expect(refused).rejects.toThrow(/clear text over an unencrypted connection; set tls = "verify-full"/);
  await Bun.sleep(50);
  expect(sent).toBe(false);
});
