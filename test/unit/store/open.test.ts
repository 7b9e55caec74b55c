import { afterAll, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Secret } from "../../../src/secret.ts";
import { absentAdvice } from "../../../src/store/absent.ts";
import { LazyStore, otherStoreHolding, readPassphraseFile, StoreLockedError } from "../../../src/store/open.ts";
import { fileEntryName } from "../../../src/store/store.ts";
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
    return { store: backing, why: "test" };
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
    return { store: new MemoryStore(), why: "test" };
  });
  const first = lazy.get("secret:x");
  await Bun.sleep(0);
  lazy.close();
  release();
  await expect(first).rejects.toThrow("the agent was locked while the secret store was being opened");
  await lazy.get("secret:x");
  expect(opens).toBe(2);
});

test("status says which store is in use and why; while none is open, which will be", async () => {
  const lazy = new LazyStore(async () => ({ store: new MemoryStore(), why: 'keyring = "auto", and the OS keyring answered' }), {
    intent: 'keyring = "auto": the OS keyring if it answers at first use, else the encrypted file store at /s',
  });
  expect(lazy.status()).toMatchObject({ state: "closed", reason: expect.stringContaining("if it answers at first use") });
  await lazy.entries();
  expect(lazy.status()).toMatchObject({ state: "open", reason: 'keyring = "auto", and the OS keyring answered' });

  const locked = new LazyStore(
    async () => {
      throw new StoreLockedError("/s", true, 'keyring = "auto", and the OS keyring is not available: no Secret Service is running');
    },
    { intent: "auto" },
  );
  await expect(locked.get("secret:x")).rejects.toThrow("credagent unlock");
  expect(locked.status()).toMatchObject({ state: "locked", backend: "file", reason: expect.stringContaining("no Secret Service") });
});

test("a secret missing from the store in use is looked for in the other, and the message says how to move it", async () => {
  const fileDir = join(dir, "file-store");
  mkdirSync(fileDir, { recursive: true });
  writeFileSync(join(fileDir, fileEntryName("secret:db")), "sealed");
  // The file store is looked at without its passphrase: an entry's file is named by its account.
  expect(await otherStoreHolding("os", "secret:db", fileDir)).toBe(`the encrypted file store at ${fileDir}`);
  expect(await otherStoreHolding("os", "secret:api", fileDir)).toBeNull();

  const keyringLike = Object.assign(new MemoryStore(), { backend: "os" as const, description: "the OS keyring" });
  const lazy = new LazyStore(async () => ({ store: keyringLike, why: "test" }), {
    elsewhere: (inUse, account) => otherStoreHolding(inUse, account, fileDir),
  });
  await lazy.entries();
  expect(await absentAdvice(lazy, "secret:db", "db", "set one with: credagent secret set db")).toBe(
    `; the encrypted file store at ${fileDir} holds it: move it to the store in use with: credagent secret move db --to os`,
  );
  expect(await absentAdvice(lazy, "secret:api", "api", "set one with: credagent secret set api")).toBe(
    "; set one with: credagent secret set api",
  );
});

test("LazyStore opens with the account of the use that opens it (the keyring checks itself by reading that one)", async () => {
  const asked: Array<string | undefined> = [];
  const lazy = new LazyStore(async (_given, firstAccount) => {
    asked.push(firstAccount);
    return { store: new MemoryStore(), why: "test" };
  });
  await Promise.all([lazy.get("token:api"), lazy.get("token:db")]);
  await lazy.set("secret:x", new Secret("v"));
  lazy.close();
  await lazy.delete("secret:x");
  expect(asked).toEqual(["token:api", "secret:x"]);
});
