import { expect, test } from "bun:test";
import { descriptorSink } from "../../../src/log/sink.ts";

/** A descriptor with `room` bytes of space, like a file on a filling disk. */
function fakeDisk(room: number) {
  const disk = { text: "", room, calls: 0 };
  const write = (_fd: number, buffer: Uint8Array, offset: number, length: number): number => {
    disk.calls += 1;
    if (disk.room <= 0) throw Object.assign(new Error("ENOSPC: no space left on device, write"), { code: "ENOSPC" });
    const n = Math.min(length, disk.room);
    disk.text += Buffer.from(buffer.subarray(offset, offset + n)).toString();
    disk.room -= n;
    return n;
  };
  return { disk, write };
}

const NOW = Date.UTC(2026, 0, 1);

test("a full disk drops lines without throwing, and the next line that fits says how many were lost", () => {
  const { disk, write } = fakeDisk(10);
  const sink = descriptorSink(9, () => NOW, write, 4242);
  sink("first line\n");
  expect(disk.text).toBe("first line");
  // The newline did not fit: the line was cut short. These three are dropped.
  for (const line of ["second\n", "third\n", "fourth\n"]) expect(() => sink(line)).not.toThrow();
  // One attempt per line, never a retry loop.
  expect(disk.calls).toBeLessThanOrEqual(6);

  disk.room = 10_000;
  sink("fifth\n");
  expect(disk.text).toBe(
    "first line\n2026-01-01T00:00:00.000Z [4242] WARN log lines were dropped while the log could not be written count=4 error=ENOSPC\nfifth\n",
  );
  sink("sixth\n");
  expect(disk.text.endsWith("fifth\nsixth\n")).toBe(true);
});

test("a line written in parts is written whole", () => {
  const { disk, write } = fakeDisk(1_000);
  let calls = 0;
  const sink = descriptorSink(
    9,
    () => NOW,
    (fd, buffer, offset, length) => write(fd, buffer, offset, Math.min(length, 1 + calls++)),
  );
  sink("a line in pieces\n");
  expect(disk.text).toBe("a line in pieces\n");
});

test("a descriptor that writes nothing does not spin", () => {
  let calls = 0;
  const sink = descriptorSink(
    9,
    () => NOW,
    () => (calls++, 0),
  );
  sink("line\n");
  sink("line\n");
  expect(calls).toBeLessThanOrEqual(4);
});
