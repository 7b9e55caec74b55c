import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Secret } from "../../../src/secret.ts";
import { LazyStore, readPassphraseFile } from "../../../src/store/open.ts";
import { MemoryStore } from "../../../src/store/memory.ts";

const dir = mkdtempSync("/tmp/ca-open-");
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test("a passphrase file must be private; its first line is the passphrase", () => {
  const file = join(dir, "pass");
  writeFileSync(file, "first line\nsecond\n", { mode: 0o644 });
  expect(() => readPassphraseFile(file)).toThrow(`chmod 600 ${file}`);
  writeFileSync(join(dir, "ok"), "first line\nsecond\n", { mode: 0o600 });
  expect(readPassphraseFile(join(dir, "ok")).reveal()).toBe("first line");
  expect(() => readPassphraseFile(join(dir, "none"))).toThrow("ENOENT");
});

test("LazyStore opens once, retries after a failure, and reopens after close", async () => {
  let opens = 0;
  let fail = true;
  const backing = new MemoryStore();
  const lazy = new LazyStore(async () => {
    opens += 1;
    if (fail) throw new Error("keyring locked");
    return backing;
  });
  await expect(lazy.get("secret:a")).rejects.toThrow("keyring locked");
  fail = false;
  await lazy.set("secret:a", new Secret("v"));
  expect((await lazy.get("secret:a"))?.reveal()).toBe("v");
  expect(opens).toBe(2);
  lazy.close();
  await lazy.entries();
  expect(opens).toBe(3);
});

test("an open that finishes after close() is not kept", async () => {
  let release!: () => void;
  let opens = 0;
  const lazy = new LazyStore(async () => {
    opens += 1;
    if (opens === 1) await new Promise<void>((r) => (release = r));
    return new MemoryStore();
  });
  const first = lazy.get("secret:x");
  await Bun.sleep(0);
  lazy.close();
  release();
  await expect(first).rejects.toThrow("the agent was locked while the secret store was being opened");
  await lazy.get("secret:x");
  expect(opens).toBe(2);
});
