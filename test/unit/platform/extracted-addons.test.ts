import { expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { oneOffAddonCopies, removeOneOffAddonCopies } from "../../../src/platform/extracted-addons.ts";

const line = (path: string) => `7f1000000000-7f1000300000 r-xp 00000000 08:01 1234                       ${path}`;

test("the runtime's one-off addon copies: .HEX-N.node in the temporary directory, still linked, each once", () => {
  const maps = [
    line("/tmp/.a8d080bacaf84c2e-0.node"),
    line("/tmp/.a8d080bacaf84c2e-0.node"),
    line("/tmp/.bun-1000-b03e5ed0aa075763.node"),
    line("/tmp/.a8d080bacaf84c2f-0.node (deleted)"),
    line("/var/tmp/.a8d080bacaf84c30-0.node"),
    line("/tmp/sub/.a8d080bacaf84c31-0.node"),
    line("/tmp/a8d080bacaf84c32-0.node"),
    "7f2000000000-7f2000001000 rw-p 00000000 00:00 0 ",
    "7f3000000000-7f3000001000 r--p 00000000 00:00 0                          [vvar]",
  ].join("\n");
  expect(oneOffAddonCopies(maps, "/tmp")).toEqual(["/tmp/.a8d080bacaf84c2e-0.node"]);
  expect(oneOffAddonCopies(line("/tmp/with space/.0a-1.node"), "/tmp/with space")).toEqual(["/tmp/with space/.0a-1.node"]);
});

test("removal: only what the maps name, only regular files; a missing one is no error", () => {
  const dir = mkdtempSync(join(tmpdir(), "ca-addons-"));
  try {
    // Files named as the runtime's copies, in the temporary directory itself (where it writes them).
    const copy = join(tmpdir(), `.${Date.now().toString(16)}ab-0.node`);
    const other = join(tmpdir(), `.${Date.now().toString(16)}cd-0.node`);
    writeFileSync(copy, "addon");
    writeFileSync(other, "addon");
    const gone = join(tmpdir(), `.${Date.now().toString(16)}ef-0.node`);
    const directory = join(tmpdir(), `.${Date.now().toString(16)}99-0.node`);
    mkdirSync(directory);
    writeFileSync(join(directory, "x"), "");
    const removed = removeOneOffAddonCopies(() => [line(copy), line(gone), line(directory), line(join(dir, ".0a-0.node"))].join("\n"));
    expect(existsSync(directory)).toBe(true);
    rmSync(directory, { recursive: true });
    expect(removed).toEqual(process.platform === "linux" ? [copy] : []);
    expect(existsSync(copy)).toBe(process.platform !== "linux");
    expect(existsSync(other)).toBe(true);
    rmSync(copy, { force: true });
    rmSync(other, { force: true });
    // Unreadable maps: nothing removed, nothing thrown.
    expect(
      removeOneOffAddonCopies(() => {
        throw new Error("no /proc");
      }),
    ).toEqual([]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
