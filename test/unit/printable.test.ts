import { expect, test } from "bun:test";
import { printable, printableLines, terminalSafeJson } from "../../src/printable.ts";
import { table } from "../../src/cli/output/table.ts";
import { createLogger } from "../../src/log/log.ts";

const SPOOF = "/tmp/evil\u001b[2K\r/usr/bin/psql";

test("terminal escapes, C1 controls and bidi overrides are shown escaped; ordinary text and backslashes are not touched", () => {
  expect(printable(SPOOF)).toBe("/tmp/evil\\x1b[2K\\x0d/usr/bin/psql");
  expect(printable("a\u009b31mb")).toBe("a\\x9b31mb");
  expect(printable("/tmp/\u202egpj.exe")).toBe("/tmp/\\u202egpj.exe");
  expect(printable("C:\\Program Files\\tool.exe — élan 名前\ttab")).toBe("C:\\Program Files\\tool.exe — élan 名前\ttab");
  expect(printable("two\nlines")).toBe("two\\x0alines");
  expect(printableLines("two\nlines\u001b]0;title\u0007")).toBe("two\nlines\\x1b]0;title\\x07");
});

test("JSON keeps its value and loses what JSON.stringify leaves raw", () => {
  const value = { exe: "/tmp/a\u009b\u202eb\u001b" };
  const json = terminalSafeJson(JSON.stringify(value, null, 2));
  expect(json).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202e]/);
  expect(JSON.parse(json)).toEqual(value);
});

test("tables and log lines show a peer's path escaped", () => {
  const out = table(["ID", "EXECUTABLE"], [["1", SPOOF]]);
  expect(out).not.toContain("\u001b");
  expect(out).toContain("/tmp/evil\\x1b[2K\\x0d/usr/bin/psql");
  const lines: string[] = [];
  const log = createLogger((l) => lines.push(l), "info");
  log.warn("confirmation needed", { exe: "/tmp/a\u009b31m\u202e" });
  expect(lines.at(-1)).toContain('exe="/tmp/a\\u009b31m\\u202e"');
});
