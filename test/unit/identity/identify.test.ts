import { expect, test } from "bun:test";
import { lookUpPeer, ownProcessHolding } from "../../../src/identity/identify.ts";
import type { ProcFds } from "../../../src/identity/socket-holders.ts";

test("loopback TCP: the process by its socket's inode when the door asks, among the agent user's processes; none for several holders", async () => {
  if (process.platform !== "linux") return;
  const server = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const client = await Bun.connect({ hostname: "127.0.0.1", port: server.port, socket: { data() {} } });
  try {
    const addresses = { localAddress: "127.0.0.1", localPort: server.port, remoteAddress: "127.0.0.1", remotePort: client.localPort };
    const asked: number[] = [];
    const found = lookUpPeer({ transport: "tcp", addresses, process: true }, "linux", (inode, uid) => {
      asked.push(inode);
      return { pid: 4242, gid: uid };
    });
    expect(found).toMatchObject({ ok: true, actor: { transport: "tcp", uid: process.getuid!(), peer: { pid: 4242 } } });
    expect(asked[0]).toBeGreaterThan(0);
    // A door that does not ask (the SDK endpoints) pays no /proc walk.
    expect(lookUpPeer({ transport: "tcp", addresses }, "linux", () => ({ pid: 1, gid: 1 }))).toMatchObject({
      ok: true,
      actor: { peer: null },
    });
  } finally {
    client.end();
    server.stop(true);
  }
  const proc = (tree: Record<number, string[]>): ProcFds => ({
    pids: () => Object.keys(tree).map(Number),
    owner: () => 1000,
    gid: () => 100,
    fdTargets: (pid) => tree[pid] ?? [],
  });
  expect(ownProcessHolding(7, 1000, proc({ 10: ["socket:[7]"], 11: ["socket:[8]"] }))).toEqual({ pid: 10, gid: 100 });
  expect(ownProcessHolding(7, 1000, proc({ 10: ["socket:[7]"], 11: ["socket:[7]"] }))).toBeNull();
  expect(ownProcessHolding(7, 1000, proc({ 11: ["socket:[8]"] }))).toBeNull();
});
