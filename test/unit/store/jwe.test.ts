import { describe, expect, test } from "bun:test";
import { CompactEncrypt, compactDecrypt } from "jose";
import { JweError, openDirect, openWithPassphrase, sealDirect, sealWithPassphrase, unwrapKey, wrapKey } from "../../../src/store/jwe.ts";

// The file store's JWEs, sealed and opened by src/store/jwe.ts (node:crypto), against jose, which
// wrote every store before it: each shape both ways, so stores made earlier still open and jose
// (any JOSE library) reads what is written now.

const enc = new TextEncoder();
const dec = new TextDecoder();
const key = () => crypto.getRandomValues(new Uint8Array(new ArrayBuffer(32)));
const hex = (s: string) => Uint8Array.from(Buffer.from(s.replace(/\s/g, ""), "hex"));

/** The JWE with one character of part `index` changed (a valid base64url character either way). */
function tamper(jwe: string, index: number): string {
  const parts = jwe.split(".");
  const part = parts[index]!;
  const at = Math.floor(part.length / 2);
  parts[index] = part.slice(0, at) + (part[at] === "A" ? "B" : "A") + part.slice(at + 1);
  return parts.join(".");
}

describe("entries (dir, A256GCM)", () => {
  test("what jose sealed opens, header fields and all", async () => {
    const k = key();
    const jwe = await new CompactEncrypt(enc.encode("hunter2"))
      .setProtectedHeader({ alg: "dir", enc: "A256GCM", cty: "credagent-entry", acct: "secret:db" })
      .encrypt(k);
    const { plaintext, header } = openDirect(k, jwe);
    expect(dec.decode(plaintext)).toBe("hunter2");
    expect(header).toEqual({ alg: "dir", enc: "A256GCM", cty: "credagent-entry", acct: "secret:db" });
  });

  test("what it seals jose opens; each seal has its own IV", async () => {
    const k = key();
    const jwe = sealDirect(k, enc.encode('{"v":1}'), { cty: "credagent-entry", acct: "token:api" });
    const { plaintext, protectedHeader } = await compactDecrypt(jwe, k);
    expect(dec.decode(plaintext)).toBe('{"v":1}');
    expect(protectedHeader).toEqual({ alg: "dir", enc: "A256GCM", cty: "credagent-entry", acct: "token:api" });
    expect(jwe.split(".")[1]).toBe("");
    expect(sealDirect(k, enc.encode("x"), {}).split(".")[2]).not.toBe(sealDirect(k, enc.encode("x"), {}).split(".")[2]);
  });

  test("the plaintext comes over an ArrayBuffer of its own (a small array's bytes would be moved)", () => {
    const k = key();
    const { plaintext } = openDirect(k, sealDirect(k, enc.encode("short"), {}));
    expect(plaintext.byteOffset).toBe(0);
    expect(plaintext.buffer.byteLength).toBe(5);
  });

  test("a changed header, IV, ciphertext or tag, or another key, does not open", () => {
    const k = key();
    const jwe = sealDirect(k, enc.encode("a value long enough to change"), { acct: "secret:db" });
    for (const index of [0, 2, 3, 4]) expect(() => openDirect(k, tamper(jwe, index))).toThrow(JweError);
    expect(() => openDirect(key(), jwe)).toThrow("does not decrypt");
  });

  test("what it does not do is refused: other algorithms, zip, crit, not five parts", async () => {
    const k = key();
    const pbes2 = await new CompactEncrypt(enc.encode("x"))
      .setProtectedHeader({ alg: "PBES2-HS512+A256KW", enc: "A256GCM" })
      .setKeyManagementParameters({ p2c: 1000 })
      .encrypt(enc.encode("pass"));
    expect(() => openDirect(k, pbes2)).toThrow("unexpected key management");
    const cbc = await new CompactEncrypt(enc.encode("x"))
      .setProtectedHeader({ alg: "dir", enc: "A256CBC-HS512" })
      .encrypt(new Uint8Array(64));
    expect(() => openDirect(k, cbc)).toThrow("unexpected content encryption");
    const header = (fields: object) => Buffer.from(JSON.stringify({ alg: "dir", enc: "A256GCM", ...fields })).toString("base64url");
    const rest = sealDirect(k, enc.encode("x"), {}).split(".").slice(1).join(".");
    expect(() => openDirect(k, `${header({ zip: "DEF" })}.${rest}`)).toThrow("not supported");
    expect(() => openDirect(k, `${header({ crit: ["exp"], exp: 1 })}.${rest}`)).toThrow("not supported");
    expect(() => openDirect(k, "a.b.c")).toThrow("five parts");
    expect(() => openDirect(k, `${Buffer.from("[1]").toString("base64url")}.${rest}`)).toThrow("not an object");
    expect(() => openDirect(k, `!!!.${rest}`)).toThrow(JweError);
  });
});

describe("the store's key (PBES2-HS512+A256KW, A256GCM)", () => {
  test("what jose sealed opens", async () => {
    const k = key();
    const jwe = await new CompactEncrypt(k)
      .setProtectedHeader({ alg: "PBES2-HS512+A256KW", enc: "A256GCM", cty: "credagent-key" })
      .setKeyManagementParameters({ p2c: 2000 })
      .encrypt(enc.encode("correct horse"));
    expect([...(await openWithPassphrase(enc.encode("correct horse"), jwe, 600_000))]).toEqual([...k]);
  });

  test("what it seals jose opens, with the count and a 16-byte salt in the header", async () => {
    const k = key();
    const jwe = await sealWithPassphrase(enc.encode("correct horse"), k, 3000, { cty: "credagent-key" });
    const { plaintext, protectedHeader } = await compactDecrypt(jwe, enc.encode("correct horse"), {
      keyManagementAlgorithms: ["PBES2-HS512+A256KW"],
      maxPBES2Count: 3000,
    });
    expect([...plaintext]).toEqual([...k]);
    expect(protectedHeader).toMatchObject({ alg: "PBES2-HS512+A256KW", enc: "A256GCM", cty: "credagent-key", p2c: 3000 });
    expect(Buffer.from(protectedHeader.p2s as string, "base64url").length).toBe(16);
  });

  test("a wrong passphrase, a changed wrapped key or ciphertext, does not open", async () => {
    const jwe = await sealWithPassphrase(enc.encode("right"), key(), 1000, {});
    await expect(openWithPassphrase(enc.encode("wrong"), jwe, 1000)).rejects.toThrow("wrong passphrase");
    await expect(openWithPassphrase(enc.encode("right"), tamper(jwe, 1), 1000)).rejects.toThrow(JweError);
    await expect(openWithPassphrase(enc.encode("right"), tamper(jwe, 3), 1000)).rejects.toThrow(JweError);
  });

  test("an iteration count above the limit or below 1,000, or no salt, is refused before any work", async () => {
    const pass = enc.encode("p");
    const high = await sealWithPassphrase(pass, key(), 5000, {});
    await expect(openWithPassphrase(pass, high, 4999)).rejects.toThrow("p2c");
    const forged = (fields: object) => {
      const parts = high.split(".");
      const header = JSON.parse(Buffer.from(parts[0]!, "base64url").toString());
      parts[0] = Buffer.from(JSON.stringify({ ...header, ...fields })).toString("base64url");
      return parts.join(".");
    };
    await expect(openWithPassphrase(pass, forged({ p2c: 1 }), 600_000)).rejects.toThrow("p2c");
    await expect(openWithPassphrase(pass, forged({ p2c: 1000.5 }), 600_000)).rejects.toThrow("p2c");
    await expect(openWithPassphrase(pass, forged({ p2s: undefined }), 600_000)).rejects.toThrow("salt");
  });
});

describe("AES Key Wrap (RFC 3394)", () => {
  test("section 4.6: 256 bits of key data under a 256-bit KEK, and back", () => {
    const kek = hex("000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F");
    const data = hex("00112233445566778899AABBCCDDEEFF000102030405060708090A0B0C0D0E0F");
    const wrapped = wrapKey(kek, data);
    expect(wrapped.toString("hex").toUpperCase()).toBe("28C9F404C4B810F4CBCCB35CFB87F8263F5786E2D80ED326CBC7F0E71A99F43BFB988B9B7A02DD21");
    expect([...unwrapKey(kek, wrapped)]).toEqual([...data]);
  });

  test("a changed wrapped key, another KEK or another length fails its check", () => {
    const kek = key();
    const wrapped = wrapKey(kek, key());
    const changed = Uint8Array.from(wrapped);
    changed[20]! ^= 1;
    expect(() => unwrapKey(kek, changed)).toThrow(JweError);
    expect(() => unwrapKey(key(), wrapped)).toThrow(JweError);
    expect(() => unwrapKey(kek, wrapped.subarray(0, 32))).toThrow("wrong length");
  });
});
