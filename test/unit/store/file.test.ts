import { afterAll, describe, expect, test } from "bun:test";
import { CompactEncrypt } from "jose";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { NO_COPY, storeCopies } from "../../support/store-copies-run.ts";
import { Secret } from "../../../src/secret.ts";
import { FileStore } from "../../../src/store/file.ts";
import { FILE_STORE_KEY, fileEntryName } from "../../../src/store/store.ts";

const base = mkdtempSync("/tmp/ca-file-");
afterAll(() => rmSync(base, { recursive: true, force: true }));
const pass = new Secret("correct horse battery staple");

async function message(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error("expected a failure");
}

describe("FileStore", () => {
  test("round trip, listing, delete; files 0600 in a 0700 dir, no plaintext on disk", async () => {
    const dir = join(base, "rt");
    const store = await FileStore.open(dir, pass);
    await store.set("secret:db", new Secret("hunter2"));
    await store.set("token:api", new Secret('{"v":1}'));
    expect((await store.get("secret:db"))?.reveal()).toBe("hunter2");
    expect(await store.get("secret:none")).toBeNull();
    expect([...(await store.entries()).keys()].sort()).toEqual(["secret:db", "token:api"]);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    for (const f of readdirSync(dir)) {
      expect(statSync(join(dir, f)).mode & 0o777).toBe(0o600);
      expect(readFileSync(join(dir, f), "utf8")).not.toContain("hunter2");
    }
    const reopened = await FileStore.open(dir, pass);
    expect((await reopened.get("secret:db"))?.reveal()).toBe("hunter2");
    expect(await reopened.delete("secret:db")).toBe(true);
    expect(await reopened.delete("secret:db")).toBe(false);
    expect(await reopened.get("secret:db")).toBeNull();
  });

  test("two processes creating the store at once end with one key: what one writes, the other reads", async () => {
    const dir = join(base, "racing");
    // Both find no key file before either has written one (the agent and `secret set` at once).
    const [a, b] = await Promise.all([FileStore.open(dir, pass), FileStore.open(dir, pass)]);
    await a.set("secret:x", new Secret("from a"));
    expect((await b.get("secret:x"))?.reveal()).toBe("from a");
    await b.set("secret:y", new Secret("from b"));
    expect((await (await FileStore.open(dir, pass)).get("secret:y"))?.reveal()).toBe("from b");
    expect(readdirSync(dir).filter((f) => f.endsWith(".tmp"))).toEqual([]);
  }, 20_000);

  test("a wrong passphrase is refused with what to check", async () => {
    const dir = join(base, "wrong");
    await (await FileStore.open(dir, pass)).set("secret:x", new Secret("v"));
    expect(await message(FileStore.open(dir, new Secret("nope")))).toContain("wrong passphrase");
  });

  test("tampered ciphertext and an entry moved onto another name are detected", async () => {
    const dir = join(base, "tamper");
    const store = await FileStore.open(dir, pass);
    await store.set("secret:a", new Secret("value-a"));
    await store.set("secret:b", new Secret("value-b"));
    const fileOf = (account: string) => join(dir, `${Buffer.from(account).toString("base64url")}.jwe`);
    const jwe = readFileSync(fileOf("secret:a"), "utf8");
    const parts = jwe.split(".");
    const ct = Buffer.from(parts[3]!, "base64url");
    ct[0]! ^= 1;
    parts[3] = ct.toString("base64url");
    writeFileSync(fileOf("secret:a"), parts.join("."));
    expect(await message(store.get("secret:a"))).toContain("damaged or was tampered with");
    renameSync(fileOf("secret:b"), fileOf("secret:c"));
    expect(await message(store.get("secret:c"))).toContain("tampered");
  });

  test("kill -9 in the middle of writes never corrupts or loses the entry", async () => {
    const dir = join(base, "crash");
    const store = await FileStore.open(dir, pass);
    await store.set("secret:k", new Secret("v0"));
    const writer = Bun.spawn(["bun", resolve(import.meta.dir, "../../support/file-store-writer.ts"), dir, pass.reveal()], {
      stdout: "pipe",
      env: { ...process.env, PATH: `${resolve(import.meta.dir, "../../../node_modules/.bin")}:${process.env.PATH}` },
    });
    // Let it get well into its write loop, then kill it without warning.
    for await (const chunk of writer.stdout) if (new TextDecoder().decode(chunk).includes("writing")) break;
    await Bun.sleep(150);
    writer.kill("SIGKILL");
    await writer.exited;
    const value = (await (await FileStore.open(dir, pass)).get("secret:k"))?.reveal() ?? "";
    expect(value).toMatch(/^v\d+$/);
    // Reopening removed any temp file the killed writer left.
    expect(readdirSync(dir).sort()).toEqual([`${Buffer.from("secret:k").toString("base64url")}.jwe`, "key.jwe"]);
  });

  test("temp files of dead writers are removed at open; a live writer's are left alone", async () => {
    const dir = join(base, "temps");
    await FileStore.open(dir, pass);
    const uuid = "0f8fad5b-d9cb-469f-a165-70867728950e";
    const dead = `.secret.999999999.${uuid}.tmp`;
    const live = `.secret.${process.pid}.${uuid}.tmp`;
    writeFileSync(join(dir, dead), "x");
    writeFileSync(join(dir, live), "x");
    await FileStore.open(dir, pass);
    expect(readdirSync(dir).sort()).toEqual([live, "key.jwe"].sort());
  });
});

// test/support/store-copies.ts writes a record-sized value through a new file store, zeroes it,
// reads it back four times, takes a subarray each time (as the token cache's parser does) and zeroes it, closes the store,
// and scans its own memory for the value and the passphrase: 1 each is the needle it searches with.
// Through jose (the runtime's WebCrypto) it printed "3 3 2": copies of the plaintext and of the
// passphrase left behind, unzeroed, after a lock.
test.if(process.platform === "linux")("a value written or read, and the passphrase, leave no copy of their bytes behind", () => {
  expect(storeCopies("file", `ca-copies-${process.pid}`)).toEqual(NO_COPY);
});

test("a store written through jose (every version before node:crypto) opens, reads, and takes new entries", async () => {
  const dir = join(base, "jose");
  mkdirSync(dir, { mode: 0o700 });
  const key = crypto.getRandomValues(new Uint8Array(32));
  const enc = new TextEncoder();
  const wrapped = await new CompactEncrypt(key)
    .setProtectedHeader({ alg: "PBES2-HS512+A256KW", enc: "A256GCM", cty: "credagent-key" })
    .setKeyManagementParameters({ p2c: 600_000 })
    .encrypt(enc.encode(pass.reveal()));
  writeFileSync(join(dir, FILE_STORE_KEY), wrapped, { mode: 0o600 });
  const entry = await new CompactEncrypt(enc.encode("from-before"))
    .setProtectedHeader({ alg: "dir", enc: "A256GCM", cty: "credagent-entry", acct: "secret:old" })
    .encrypt(key);
  writeFileSync(join(dir, fileEntryName("secret:old")), entry, { mode: 0o600 });
  const store = await FileStore.open(dir, pass);
  expect((await store.get("secret:old"))?.reveal()).toBe("from-before");
  await store.set("secret:new", new Secret("written-now"));
  expect((await (await FileStore.open(dir, pass)).get("secret:new"))?.reveal()).toBe("written-now");
  await expect(FileStore.open(dir, new Secret("wrong"))).rejects.toThrow("wrong passphrase");
});
