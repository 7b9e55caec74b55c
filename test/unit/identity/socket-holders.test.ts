import { expect, test } from "bun:test";
import { type ProcFds, procFds, socketHolders } from "../../../src/identity/socket-holders.ts";

/** A fake /proc: pid -> [uid, fd link targets]. */
function fakeProc(tree: Record<number, [number, string[]]>): ProcFds & { reads: number[] } {
  const reads: number[] = [];
  return {
    reads,
    pids: () => Object.keys(tree).map(Number),
    owner: (pid) => tree[pid]?.[0] ?? null,
    fdTargets: (pid) => {
      reads.push(pid);
      return tree[pid]?.[1] ?? [];
    },
  };
}

const tree = fakeProc({
  1: [0, ["socket:[4242]"]],
  200: [1000, ["/dev/null", "pipe:[77]", "socket:[4241]"]],
  300: [1000, ["/dev/null", "socket:[4242]", "anon_inode:[eventpoll]"]],
  400: [1001, ["socket:[4242]"]],
});

test("the process of the named uid whose descriptor links to socket:[INODE]", () => {
  expect(socketHolders(4242, 1000, tree)).toEqual([300]);
  // Another uid's process holding the same inode is not read as ours (and root's pid 1 neither).
  expect(socketHolders(4242, 1001, tree)).toEqual([400]);
  expect(socketHolders(4243, 1000, tree)).toEqual([]);
  expect(socketHolders(0, 1000, tree)).toEqual([]);
});

test("only the named uid's processes are read; a remembered pid first, and once", () => {
  tree.reads.length = 0;
  socketHolders(4242, 1000, tree, { first: [300], except: 200 });
  expect(tree.reads).toEqual([300]);
});

test("a socket shared across fork: every holder, so the caller can tell one process from several", () => {
  const forked = fakeProc({ 10: [1000, ["socket:[9]"]], 11: [1000, ["socket:[9]"]] });
  expect(socketHolders(9, 1000, forked)).toEqual([10, 11]);
});

test("on this machine: a TCP connection of this process is found by its socket's inode", async () => {
  if (process.platform !== "linux") return;
  const server = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const client = await Bun.connect({ hostname: "127.0.0.1", port: server.port, socket: { data() {} } });
  try {
    const { sockDiagOwner } = await import("../../../src/identity/sock-diag.ts");
    const owner = sockDiagOwner({
      peerAddress: "127.0.0.1",
      peerPort: client.localPort,
      serverAddress: "127.0.0.1",
      serverPort: server.port,
    });
    expect(owner?.uid).toBe(process.getuid!());
    expect(socketHolders(owner!.inode, process.getuid!(), procFds, { first: [process.pid] })).toEqual([process.pid]);
  } finally {
    client.end();
    server.stop(true);
  }
});
