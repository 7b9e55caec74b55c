import { afterAll, describe, expect, test } from "bun:test";
import { chmodSync, mkdirSync, mkdtempSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import net from "node:net";
import { join } from "node:path";
import { peerAllowed, readPeerIdentity, type PeerIdentity } from "../../../src/identity/peer.ts";
import { socketFd } from "../../../src/transport/stream.ts";
import { ensurePrivateDir, listenUnix, listenUnixStreams } from "../../../src/transport/unix.ts";

const uid = process.getuid!();
const base = mkdtempSync("/tmp/ca-unix-");
afterAll(() => rmSync(base, { recursive: true, force: true }));

function messageOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    return (err as Error).message;
  }
  return "";
}

describe("socket directory checks", () => {
  test("creates a missing directory 0700", () => {
    const dir = join(base, "new");
    ensurePrivateDir(dir, uid);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
  });

  test("refuses group/other bits, a foreign owner, a symlink, a file, a missing parent", () => {
    const open = join(base, "open");
    mkdirSync(open, { mode: 0o700 });
    chmodSync(open, 0o755);
    expect(messageOf(() => ensurePrivateDir(open, uid))).toContain(`chmod 700 ${open}`);
    const mine = join(base, "mine");
    mkdirSync(mine, { mode: 0o700 });
    expect(messageOf(() => ensurePrivateDir(mine, uid + 1))).toContain("not by you");
    const link = join(base, "link");
    symlinkSync(mine, link);
    expect(messageOf(() => ensurePrivateDir(link, uid))).toContain("symbolic link");
    const file = join(base, "file");
    writeFileSync(file, "");
    expect(messageOf(() => ensurePrivateDir(file, uid))).toContain("not a directory");
    expect(messageOf(() => ensurePrivateDir(join(base, "no", "such"), uid))).toContain("parent directory does not exist");
  });
});

describe("listenUnix", () => {
  test("a 0600 socket, one listener per path, removed on close, links refused", async () => {
    const dir = join(base, "l");
    const path = join(dir, "cred.sock");
    const peers: Array<PeerIdentity | null> = [];
    const first = await listenUnix(path, uid, (s) => {
      peers.push(readPeerIdentity(socketFd(s)));
      s.end();
    });
    expect(statSync(path).mode & 0o777).toBe(0o600);
    await expect(listenUnix(path, uid, () => {})).rejects.toThrow(/already serving/);

    await new Promise<void>((resolve) =>
      net
        .connect(path)
        .on("close", () => resolve())
        .on("error", () => resolve()),
    );
    expect(peers).toEqual([{ pid: process.pid, uid, gid: process.getgid!() }]);

    first.close();
    expect(() => statSync(path)).toThrow();
    const second = await listenUnix(path, uid, (s) => s.end());
    second.close();

    symlinkSync("/tmp/elsewhere.sock", path);
    await expect(listenUnix(path, uid, () => {})).rejects.toThrow(/symbolic link/);
  });
});

describe("peerAllowed", () => {
  const me = 1000;
  test("own uid yes, other uid no, root unless denied, unknown (pipes) yes", () => {
    expect(peerAllowed({ pid: 1, uid: me, gid: 1 }, me, false)).toBe(true);
    expect(peerAllowed({ pid: 1, uid: 1001, gid: 1 }, me, false)).toBe(false);
    expect(peerAllowed({ pid: 1, uid: 0, gid: 0 }, me, false)).toBe(true);
    expect(peerAllowed({ pid: 1, uid: 0, gid: 0 }, me, true)).toBe(false);
    expect(peerAllowed(null, me, true)).toBe(true);
  });
});

describe("listenUnixStreams (Bun.listen)", () => {
  test("a 0600 socket, the peer's credentials from the stream's descriptor, one listener per path, removed on close", async () => {
    const dir = join(base, "s");
    const path = join(dir, "cred.sock");
    const peers: Array<PeerIdentity | null> = [];
    const first = await listenUnixStreams(path, uid, (stream) => {
      peers.push(readPeerIdentity(stream.fd));
      stream.write(new TextEncoder().encode("bye"));
      stream.end();
    });
    expect(statSync(path).mode & 0o777).toBe(0o600);
    await expect(listenUnixStreams(path, uid, () => {})).rejects.toThrow(/already serving/);
    const received = await new Promise<string>((resolve) => {
      let text = "";
      net
        .connect(path)
        .on("data", (d) => (text += d))
        .on("end", () => resolve(text))
        .on("error", () => resolve(text));
    });
    expect(received).toBe("bye");
    expect(peers).toEqual([{ pid: process.pid, uid, gid: process.getgid!() }]);
    first.close();
    expect(() => statSync(path)).toThrow();
    const second = await listenUnixStreams(path, uid, (s) => s.end());
    second.close();
  });

  test("an answer larger than the kernel takes at once waits for 'drain', arrives whole before the close, and is zeroable only once sent", async () => {
    const path = join(base, "s2", "cred.sock");
    const big = new Uint8Array(4 * 1024 * 1024).map((_, i) => i % 251);
    let writtenAt = -1;
    let receivedWhenWritten = -1;
    let received = 0;
    const listener = await listenUnixStreams(path, uid, (stream) => {
      stream.write(big, () => {
        writtenAt = Date.now();
        receivedWhenWritten = received;
      });
      stream.end();
    });
    const chunks: Buffer[] = [];
    await new Promise<void>((resolve) => {
      const client = net.connect(path);
      client.pause();
      // The client reads nothing for a while: the kernel buffer fills, the rest must wait.
      setTimeout(() => client.resume(), 200);
      client.on("data", (d: Buffer) => {
        chunks.push(d);
        received += d.length;
      });
      client.on("end", () => resolve());
      client.on("error", () => resolve());
    });
    listener.close();
    const all = Buffer.concat(chunks);
    expect(all.length).toBe(big.length);
    expect(all.equals(Buffer.from(big))).toBe(true);
    expect(writtenAt).toBeGreaterThan(0);
    // 'written' came after the client had started reading: the bytes were not all taken at once.
    expect(receivedWhenWritten).toBeGreaterThan(0);
  });
});
