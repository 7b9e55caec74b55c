import { expect, test } from "bun:test";
import { controllingTerminal, terminalName } from "../../../src/identity/process-info.ts";

test("terminal names from tty_nr: pseudo-terminals, virtual consoles and serial lines", () => {
  // makedev(136, 3) = /dev/pts/3; pts 300 = major 137, minor 44; minors past 255 use bits 20-31.
  expect(terminalName((136 << 8) | 3)).toBe("/dev/pts/3");
  expect(terminalName((137 << 8) | 44)).toBe("/dev/pts/300");
  expect(terminalName((4 << 8) | 2)).toBe("/dev/tty2");
  expect(terminalName((4 << 8) | 65)).toBe("/dev/ttyS1");
  expect(terminalName((5 << 8) | 1)).toBe("terminal 5:1");
  expect(terminalName((136 << 8) | 1 | (1 << 20))).toBe("/dev/pts/257");
});

test.if(process.platform === "linux")("this process's terminal, as ps names it", () => {
  const tty = controllingTerminal(process.pid);
  const ps = Bun.spawnSync(["ps", "-o", "tty=", "-p", String(process.pid)])
    .stdout.toString()
    .trim();
  if (!tty) expect(ps).toBe("?");
  else expect(terminalName(tty)).toBe(`/dev/${ps}`);
});
