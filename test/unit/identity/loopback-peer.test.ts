import { expect, test } from "bun:test";
import { findUid, loopbackPeerUid } from "../../../src/identity/loopback-peer.ts";

// Rows as the kernel writes them: the client's socket (local = its port 0xD318, remote = our
// 0x892D) owned by uid 1000, our accepted socket (the reverse) owned by 0, and a TIME_WAIT row.
const TCP = `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000:07E8 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 491 1 0000000014fa3af2 100 0 0 10 0
   1: 0100007F:892D 0100007F:D318 01 00000000:00000000 00:00000000 00000000     0        0 7001 1 0000000000000000 20 4 30 10 -1
   2: 0100007F:D318 0100007F:892D 01 00000000:00000000 00:00000000 00000000  1000        0 7002 1 0000000000000000 20 4 30 10 -1
   3: 0100007F:D320 0100007F:892D 06 00000000:00000000 03:00001265 00000000     0        0 0 3 00000000013dd1ec
`;
const TCP6 = `  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0000000000000000FFFF00000100007F:D330 0000000000000000FFFF00000100007F:892D 01 00000000:00000000 00:00000000 00000000  1001        0 7003 1 0000000000000000 20 4 30 10 -1
`;

const tuple = (peerPort: number, serverPort: number, peerAddress = "127.0.0.1") => ({
  peerAddress,
  peerPort,
  serverAddress: "127.0.0.1",
  serverPort,
});

test("the uid of the peer's socket: local port = the peer's, remote = ours, established", () => {
  expect(findUid(TCP, tuple(0xd318, 0x892d))).toBe(1000);
  // Not our accepted socket (the reverse tuple), whose owner is the agent.
  expect(findUid(TCP, tuple(0x892d, 0xd318))).toBe(0);
  // TIME_WAIT rows belong to nobody: no answer rather than uid 0.
  expect(findUid(TCP, tuple(0xd320, 0x892d))).toBeNull();
  expect(findUid(TCP, tuple(0xd318, 0x1111))).toBeNull();
  // The same ports from another loopback address are another socket (another user may bind 127.0.0.2).
  expect(findUid(TCP, tuple(0xd318, 0x892d, "127.0.0.2"))).toBeNull();
});

test("a row of another 127/8 address is found only under that address", () => {
  const row =
    "   4: 0200007F:D318 0100007F:892D 01 00000000:00000000 00:00000000 00000000 65534        0 7009 1 0000000000000000 20 4 30 10 -1\n";
  expect(findUid(TCP + row, tuple(0xd318, 0x892d, "127.0.0.2"))).toBe(65534);
  expect(findUid(TCP + row, tuple(0xd318, 0x892d))).toBe(1000);
});

test("a v4-mapped socket in tcp6 is found too; a table that cannot be read is skipped", () => {
  const read = (path: string) => {
    if (path.endsWith("tcp6")) return TCP6;
    throw new Error("ENOENT");
  };
  expect(loopbackPeerUid(tuple(0xd330, 0x892d), read)).toBe(1001);
  expect(loopbackPeerUid(tuple(0xd318, 0x892d), read)).toBeNull();
});

test("sock_diag and the tables agree on a real loopback connection of this process; an unknown tuple is null", async () => {
  if (process.platform !== "linux") return;
  const { sockDiagUid } = await import("../../../src/identity/sock-diag.ts");
  const net = await import("node:net");
  const server = net.createServer(() => {}).listen(0, "127.0.0.1");
  await new Promise((r) => server.once("listening", r));
  const port = (server.address() as { port: number }).port;
  const client = net.connect(port, "127.0.0.1");
  try {
    await new Promise((r) => client.once("connect", r));
    const conn = tuple(client.localPort!, port);
    expect(sockDiagUid(conn)).toBe(process.getuid!());
    expect(loopbackPeerUid(conn)).toBe(process.getuid!());
    expect(sockDiagUid(tuple(conn.peerPort, port === 65535 ? 1 : port + 1))).toBeNull();
    // The same ports on another loopback address name no socket.
    expect(sockDiagUid(tuple(conn.peerPort, port, "127.0.0.2"))).toBeNull();
    expect(loopbackPeerUid(tuple(conn.peerPort, port, "127.0.0.2"))).toBeNull();
  } finally {
    client.destroy();
    server.close();
  }
});
