import { expect, test } from "bun:test";
import { parseBsdInfoStartTime, parseXucred } from "../../../src/identity/darwin.ts";

// The macOS buffer layouts, checked here on any platform (the calls run only on macOS).
test("struct xucred: version 0, uid at 4, first group at 12", () => {
  const buf = new Uint8Array(76);
  const view = new DataView(buf.buffer);
  view.setUint32(0, 0, true);
  view.setUint32(4, 501, true);
  view.setInt16(8, 2, true);
  view.setUint32(12, 20, true);
  expect(parseXucred(buf)).toEqual({ uid: 501, gid: 20 });
  view.setUint32(0, 7, true);
  expect(() => parseXucred(buf)).toThrow("unexpected xucred layout");
});

test("struct proc_bsdinfo: start time from pbi_start_tvsec and tvusec", () => {
  const buf = new Uint8Array(136);
  const view = new DataView(buf.buffer);
  view.setBigUint64(120, 1_795_500_000n, true);
  view.setBigUint64(128, 123_456n, true);
  expect(parseBsdInfoStartTime(buf)).toBe(1_795_500_000 * 1_000_000 + 123_456);
  expect(() => parseBsdInfoStartTime(new Uint8Array(100))).toThrow("short");
});
