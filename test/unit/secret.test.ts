import { describe, expect, test } from "bun:test";
import { inspect } from "node:util";
import { createLogger } from "../../src/log/log.ts";
import { base64Bytes, Secret, unmovableCopy } from "../../src/secret.ts";

describe("Secret", () => {
  test("prints as [redacted] however it is printed", () => {
    const s = new Secret("hunter2");
    expect(String(s)).toBe("[redacted]");
    expect(`${s}`).toBe("[redacted]");
    expect(JSON.stringify({ s })).toBe('{"s":"[redacted]"}');
    expect(inspect(s)).toBe("[redacted]");
    expect(Bun.inspect({ s })).not.toContain("hunter2");
    expect(s.reveal()).toBe("hunter2");
  });

  test("the logger quotes values that need it and drops undefined", () => {
    const lines: string[] = [];
    const log = createLogger(
      (l) => lines.push(l),
      "info",
      () => 0,
      4242,
    );
    log.debug("hidden");
    log.info("hello", { a: "x y", b: 1, c: undefined });
    expect(lines).toEqual(['1970-01-01T00:00:00.000Z [4242] INFO hello a="x y" b=1\n']);
  });
});

test("unmovableCopy: the bytes, over an ArrayBuffer of their own (the memory scan of test/support/store-copies.ts shows they are not left behind)", () => {
  const from = new Uint8Array([1, 2, 3, 250]);
  const copy = unmovableCopy(from);
  expect([...copy]).toEqual([1, 2, 3, 250]);
  expect(copy.byteOffset).toBe(0);
  expect(copy.buffer.byteLength).toBe(4);
  from[0] = 9;
  expect(copy[0]).toBe(1);
  expect([...unmovableCopy([7, 8])]).toEqual([7, 8]);
});

test("base64Bytes: the prefix, then what Buffer's base64 gives, for every length's padding; over an ArrayBuffer of its own", () => {
  const decoder = new TextDecoder();
  for (let length = 0; length <= 67; length++) {
    const bytes = crypto.getRandomValues(new Uint8Array(length));
    const encoded = base64Bytes(bytes, "Negotiate ");
    expect(decoder.decode(encoded)).toBe(`Negotiate ${Buffer.from(bytes).toString("base64")}`);
    expect(encoded.buffer.byteLength).toBe(encoded.byteLength);
  }
  expect(decoder.decode(base64Bytes(new Uint8Array([0xff, 0xfe, 0xfd, 0x00])))).toBe("//79AA==");
});
