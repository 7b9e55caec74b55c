import { expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { descriptorSink, rotatingFileSink, type FileIdentity } from "../../../src/log/sink.ts";

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

test("the log file is rotated to .1 before a line would take it past its size; stderr follows when it was that file", () => {
  const dir = mkdtempSync("/tmp/ca-sink-");
  try {
    const path = join(dir, "agent.log");
    const rotated: Array<{ old: FileIdentity; fd: number }> = [];
    const file = rotatingFileSink(path, { maxBytes: 1_000, now: () => NOW, onRotate: (old, fd) => rotated.push({ old, fd }) });
    const first = statSync(path);
    for (let i = 0; i < 50; i++) file.sink(`line ${String(i).padStart(3, "0")} ${"x".repeat(40)}\n`);
    expect(statSync(path).size).toBeLessThanOrEqual(1_000);
    expect(statSync(`${path}.1`).size).toBeLessThanOrEqual(1_000);
    expect(readFileSync(path, "utf8")).toContain("line 049");
    expect(rotated[0]!.old).toEqual({ dev: first.dev, ino: first.ino });
    expect(rotated.at(-1)!.fd).toBe(file.fd());
    expect(statSync(path).mode & 0o777).toBe(0o600);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a log another agent rotated already is followed, not rotated again; one that cannot be renamed is emptied", () => {
  const dir = mkdtempSync("/tmp/ca-sink-");
  try {
    const path = join(dir, "agent.log");
    const a = rotatingFileSink(path, { maxBytes: 1_000, now: () => NOW });
    const b = rotatingFileSink(path, { maxBytes: 1_000, now: () => NOW });
    for (let i = 0; i < 30; i++) a.sink(`a ${i} ${"x".repeat(40)}\n`);
    // a rotated; b's next line finds its file full and the path a new file: it writes there.
    b.sink("from b\n");
    expect(readFileSync(path, "utf8")).toContain("from b");
    expect(readFileSync(`${path}.1`, "utf8")).not.toContain("from b");

    const stuck = join(dir, "stuck.log");
    const c = rotatingFileSink(stuck, {
      maxBytes: 500,
      now: () => NOW,
      rename: () => {
        throw Object.assign(new Error("EBUSY"), { code: "EBUSY" });
      },
    });
    for (let i = 0; i < 30; i++) c.sink(`c ${i} ${"x".repeat(40)}\n`);
    expect(statSync(stuck).size).toBeLessThanOrEqual(500);
    expect(readFileSync(stuck, "utf8")).toContain("could not be rotated");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
