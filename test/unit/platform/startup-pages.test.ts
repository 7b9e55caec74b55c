import { expect, test } from "bun:test";
import { releasableMappings } from "../../../src/platform/startup-pages.ts";

/** One /proc/PID/smaps entry. */
function vma(range: string, perms: string, path: string, fields: { rss: number; anon?: number; locked?: number; dirty?: number }): string {
  return [
    `${range} ${perms} 00000000 08:01 1234${path ? `                      ${path}` : ""}`,
    `Size:               1024 kB`,
    `Rss:                ${fields.rss} kB`,
    `Pss:                ${fields.rss} kB`,
    `Private_Dirty:      ${fields.dirty ?? 0} kB`,
    `Anonymous:          ${fields.anon ?? 0} kB`,
    `Locked:             ${fields.locked ?? 0} kB`,
    `VmFlags: rd mr mw me`,
  ].join("\n");
}

test("only private, unwritten, file-backed mappings holding no page of the process's own are released", () => {
  const smaps = [
    vma("00200000-01a38000", "r--p", "/opt/credagent", { rss: 4096 }),
    vma("01a40000-06836000", "r-xp", "/opt/credagent", { rss: 23000 }),
    // Written (relocations: copy-on-write pages), writable, shared, anonymous, special, gone, locked, not resident:
    vma("06836000-06852000", "r--p", "/opt/credagent", { rss: 112, anon: 12, dirty: 12 }),
    vma("06852000-071a0000", "rw-p", "/opt/credagent", { rss: 3200 }),
    vma("7f0000000000-7f0000100000", "r--s", "/dev/shm/x", { rss: 64 }),
    vma("48780000000-48800000000", "rw-p", "", { rss: 6800, anon: 6800 }),
    vma("7ffd00000000-7ffd00002000", "r-xp", "[vdso]", { rss: 8 }),
    vma("7f1000000000-7f1000300000", "r-xp", "/tmp/.bun-0-ab.node (deleted)", { rss: 900 }),
    vma("7f2000000000-7f2000010000", "r-xp", "/usr/lib/libsecret.so", { rss: 64, locked: 64 }),
    vma("7f3000000000-7f3000010000", "r--p", "/usr/lib/libc.so.6", { rss: 0 }),
    vma("7f4000000000-7f4000200000", "r-xp", "/usr/lib/libc.so.6", { rss: 1100 }),
    // A file written a moment ago (a fresh install): its pages are dirty in the page cache, not the process's.
    vma("7f5000000000-7f5000400000", "r-xp", "/opt/credagent-new", { rss: 2000, dirty: 2000 }),
  ].join("\n");
  expect(releasableMappings(smaps)).toEqual([
    { start: 0x200000n, length: 0x1838000n, rssKb: 4096 },
    { start: 0x1a40000n, length: 0x4df6000n, rssKb: 23000 },
    { start: 0x7f4000000000n, length: 0x200000n, rssKb: 1100 },
    { start: 0x7f5000000000n, length: 0x400000n, rssKb: 2000 },
  ]);
});

test("this process's own smaps parses, and its executable's code is among what may be released", async () => {
  const smaps = await Bun.file("/proc/self/smaps").text();
  const found = releasableMappings(smaps);
  expect(found.length).toBeGreaterThan(0);
  expect(found.every((m) => m.length > 0n && m.rssKb > 0)).toBe(true);
});
