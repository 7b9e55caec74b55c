import { expect, test } from "bun:test";
import { formatCountdown, formatDuration, parseDuration } from "../../src/duration.ts";

test("parseDuration", () => {
  expect(parseDuration("90")).toBe(90_000);
  expect(parseDuration("90s")).toBe(90_000);
  expect(parseDuration("5m")).toBe(300_000);
  expect(parseDuration("1h30m")).toBe(5_400_000);
  expect(parseDuration("250ms")).toBe(250);
  expect(parseDuration("2d")).toBe(172_800_000);
  for (const bad of ["", "m", "5x", "5m3", "-5m", "1h 30m"]) expect(parseDuration(bad)).toBeUndefined();
});

test("formatCountdown", () => {
  expect(formatCountdown(0)).toBe("expired");
  expect(formatCountdown(12_300)).toBe("12s");
  expect(formatCountdown(245_000)).toBe("4m05s");
  expect(formatCountdown(3_720_000)).toBe("1h02m");
  expect(formatCountdown(90_000_000)).toBe("1d01h");
});

test("formatDuration writes a configured duration back as it was meant: under a second in ms", () => {
  expect(formatDuration(100)).toBe("100ms");
  expect(formatDuration(1_500)).toBe("1.5s");
  expect(formatDuration(30_000)).toBe("30s");
  expect(formatDuration(90_000)).toBe("1m30s");
  for (const ms of [100, 1_500, 30_000, 90_000]) expect(parseDuration(formatDuration(ms))).toBe(ms);
});
