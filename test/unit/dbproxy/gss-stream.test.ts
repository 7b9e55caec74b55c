import { describe, expect, test } from "bun:test";
import { EventEmitter } from "node:events";
import type net from "node:net";
import type { GssInitiator } from "../../../src/native/gssapi.ts";
import { SealedStream } from "../../../src/dbproxy/gss-stream.ts";

// The framing of a GSS-encrypted PostgreSQL connection with a stand-in for GSS-API: "sealing" adds
// a 16-byte header, as krb5's wrap tokens do; the real wrap/unwrap is tested against the server.

const OVERHEAD = 16;
const fakeGss = {
  wrapSizeLimit: (output: number) => output - OVERHEAD,
  wrap: (m: Uint8Array) => Buffer.concat([Buffer.alloc(OVERHEAD, 0xaa), m]),
  unwrap: (s: Uint8Array) => {
    if (s[0] !== 0xaa) throw new Error("not sealed");
    return s.subarray(OVERHEAD);
  },
  dispose: () => {},
} as unknown as GssInitiator;

class FakeSocket extends EventEmitter {
  written: Buffer[] = [];
  write(b: Buffer): boolean {
    this.written.push(Buffer.from(b));
    return true;
  }
  pause() {}
  resume() {}
  end() {}
  destroy() {}
}

function packets(bytes: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let at = 0;
  while (at < bytes.length) {
    const n = bytes.readUInt32BE(at);
    out.push(bytes.subarray(at + 4, at + 4 + n));
    at += 4 + n;
  }
  return out;
}

describe("SealedStream", () => {
  test("writes are cut into packets of at most 16 KiB with their length, each sealed", async () => {
    const raw = new FakeSocket();
    const stream = new SealedStream(raw as unknown as net.Socket, fakeGss, Buffer.alloc(0));
    const message = Buffer.alloc(40_000, 7);
    await new Promise<void>((resolve) => stream.write(message, () => resolve()));
    const sent = packets(Buffer.concat(raw.written));
    expect(sent.length).toBe(3);
    for (const p of sent) expect(p.length + 4).toBeLessThanOrEqual(16_384);
    expect(Buffer.concat(sent.map((p) => p.subarray(OVERHEAD)))).toEqual(message);
  });

  test("what the server sends is opened packet by packet, whatever the chunks it arrives in", async () => {
    const raw = new FakeSocket();
    const early = Buffer.concat([Buffer.from([0, 0, 0, OVERHEAD + 3]), Buffer.alloc(OVERHEAD, 0xaa), Buffer.from("abc")]);
    const stream = new SealedStream(raw as unknown as net.Socket, fakeGss, early);
    const got: Buffer[] = [];
    stream.on("data", (c: Buffer) => got.push(c));
    const second = Buffer.concat([Buffer.from([0, 0, 0, OVERHEAD + 2]), Buffer.alloc(OVERHEAD, 0xaa), Buffer.from("de")]);
    for (const byte of second) raw.emit("data", Buffer.from([byte]));
    await Bun.sleep(0);
    expect(Buffer.concat(got).toString()).toBe("abcde");
  });

  test("a packet that does not open ends the stream with an error", async () => {
    const raw = new FakeSocket();
    const stream = new SealedStream(raw as unknown as net.Socket, fakeGss, Buffer.alloc(0));
    const error = new Promise<Error>((resolve) => stream.on("error", resolve));
    raw.emit("data", Buffer.concat([Buffer.from([0, 0, 0, 20]), Buffer.alloc(20, 0x01)]));
    expect((await error).message).toContain("not sealed");
  });
});
