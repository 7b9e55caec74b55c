import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { exchangeBlocking, sockaddrUn } from "../../../src/native/unix-exchange.ts";

const dir = mkdtempSync(join(tmpdir(), "ca-exchange-"));
const peers: Bun.Subprocess[] = [];
afterAll(() => {
  for (const peer of peers) peer.kill();
  rmSync(dir, { recursive: true, force: true });
});

/** A peer process listening at a new path in `mode` (test/support/exchange-peer.ts). */
async function peer(mode: string): Promise<string> {
  const path = join(dir, `${mode}.sock`);
  const child = Bun.spawn([process.execPath, join(import.meta.dir, "../../support/exchange-peer.ts"), path, mode], {
    stdout: "pipe",
    stderr: "inherit",
  });
  peers.push(child);
  const reader = child.stdout.getReader();
  const { value } = await reader.read();
  expect(new TextDecoder().decode(value)).toContain("ready");
  return path;
}

const request = new TextEncoder().encode("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n");
const text = (r: unknown) => (r instanceof Uint8Array ? new TextDecoder().decode(r) : r);

test("sockaddr_un: Linux's two-byte family, BSD's length and family bytes; a path that does not fit is refused", () => {
  const linux = { pathOffset: 2, pathRoom: 108, sunLen: false };
  const bsd = { pathOffset: 2, pathRoom: 104, sunLen: true };
  expect([...sockaddrUn("/a", linux)!.subarray(0, 5)]).toEqual([1, 0, 47, 97, 0]);
  expect(sockaddrUn("/a", linux)!.length).toBe(110);
  expect([...sockaddrUn("/a", bsd)!.subarray(0, 5)]).toEqual([5, 1, 47, 97, 0]);
  expect(sockaddrUn("/" + "a".repeat(106), linux)).not.toBeNull();
  expect(sockaddrUn("/" + "a".repeat(107), linux)).toBeNull(); // no room for the NUL
  expect(sockaddrUn("/" + "é".repeat(60), bsd)).toBeNull(); // 121 bytes in UTF-8
  expect(sockaddrUn("", linux)).toBeNull();
  expect(sockaddrUn("/a\0b", linux)).toBeNull();
});

test("an answer in several writes, longer than the first buffer, arrives whole", async () => {
  const raw = text(await exchangeBlocking(await peer("answer"), request, 5_000)) as string;
  expect(raw.startsWith("HTTP/1.1 200 OK\r\n")).toBe(true);
  expect(raw.endsWith("x".repeat(40_000))).toBe(true);
});

test("a refusal written before the request was read is still read", async () => {
  expect(text(await exchangeBlocking(await peer("refuse"), request, 5_000))).toStartWith("HTTP/1.1 403 Forbidden\r\n");
});

test("no socket, and a peer that closes without a byte, are 'unconnected' (the caller's ordinary path says why)", async () => {
  expect(await exchangeBlocking(join(dir, "absent.sock"), request, 5_000)).toBe("unconnected");
  expect(await exchangeBlocking(await peer("silent"), request, 5_000)).toBe("unconnected");
});

test("a peer that never answers is a timeout, at the deadline", async () => {
  const path = await peer("hang");
  const started = Date.now();
  expect(await exchangeBlocking(path, request, 300)).toBe("timeout");
  const took = Date.now() - started;
  expect(took).toBeGreaterThanOrEqual(290);
  expect(took).toBeLessThan(3_000);
});

test("Bun.FFI, the native object behind bun:ffi, is there: without it get's short path loads the module (~25 more page faults)", () => {
  const native = (Bun as unknown as { FFI?: Record<string, unknown> }).FFI;
  expect(typeof native?.dlopen).toBe("function");
  expect(typeof native?.ptr).toBe("function");
  expect(typeof (native?.read as Record<string, unknown> | undefined)?.i32).toBe("function");
});

test("isTerminal: a pseudo-terminal is one; a file, a pipe and /dev/null are not", async () => {
  const { isTerminal } = await import("../../../src/native/terminal.ts");
  const { closeSync, openSync } = await import("node:fs");
  const fds = { pty: openSync("/dev/ptmx", "r+"), file: openSync(import.meta.path, "r"), null: openSync("/dev/null", "r") };
  try {
    expect(await isTerminal(fds.pty)).toBe(true);
    expect(await isTerminal(fds.file)).toBe(false);
    expect(await isTerminal(fds.null)).toBe(false);
  } finally {
    for (const fd of Object.values(fds)) closeSync(fd);
  }
  const piped = Bun.spawnSync(
    [
      process.execPath,
      "-e",
      `import("${import.meta.dir}/../../../src/native/terminal.ts").then(async (m) => console.log(await m.isTerminal(0)))`,
    ],
    {
      stdin: "pipe",
    },
  );
  expect(piped.stdout.toString().trim()).toBe("false");
});
