import { expect, test } from "bun:test";
import { formatCountdown, parseDuration } from "../../src/duration.ts";

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
