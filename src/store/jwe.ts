import { createCipheriv, createDecipheriv, pbkdf2, randomFillSync } from "node:crypto";
import { unmovableCopy } from "../secret.ts";

// The encrypted file store's JWE (RFC 7516 compact form), its two shapes only: an entry (alg "dir",
// enc "A256GCM") and the store's key wrapped under the passphrase (alg "PBES2-HS512+A256KW", enc
// "A256GCM"). Through node:crypto, not jose: jose goes through the runtime's WebCrypto, which copies
// the plaintext, the key and the passphrase into buffers of its own and frees them unzeroed, so a
// locked agent still held them (test/support/store-copies.ts). Here every buffer that held a secret
// or a key is the caller's or is zeroed before it is dropped. The files are what jose wrote and reads
// (test/unit/store/jwe.test.ts checks each shape both ways against jose).

/** A JWE this module will not open, or one that does not decrypt: the caller says what to do. */
export class JweError extends Error {}

const PBES2_ALG = "PBES2-HS512+A256KW";
const ENC = "A256GCM";
/** Fewer iterations than this are refused, as jose refuses them: a header could ask for one. */
const MIN_P2C = 1000;

type Header = Record<string, unknown>;
/** What a caller adds to the protected header: the algorithms and the PBES2 parameters are this module's. */
type Fields = { cty?: string; acct?: string };

/** Seals plaintext under a 32-byte key: alg "dir", enc "A256GCM", the header's fields beside them. */
export function sealDirect(key: Uint8Array, plaintext: Uint8Array, fields: Fields): string {
  return seal(key, plaintext, { alg: "dir", enc: ENC, ...fields }, "");
}

/**
 * Opens a "dir"/"A256GCM" JWE with a 32-byte key: its plaintext (over an ArrayBuffer of its own, for
 * the caller to zero) and its protected header. Throws JweError when it is not one, or does not decrypt.
 */
export function openDirect(key: Uint8Array, jwe: string): { plaintext: Uint8Array; header: Header } {
  const parts = split(jwe);
  const header = protectedHeader(parts[0]);
  if (header.alg !== "dir" || parts[1] !== "") throw new JweError(`unexpected key management: ${String(header.alg)}`);
  return { plaintext: open(key, parts), header };
}

/**
 * Seals plaintext under a passphrase: PBES2-HS512+A256KW with p2c iterations and a random 16-byte
 * salt wraps a random content key, which encrypts the plaintext (A256GCM).
 */
export async function sealWithPassphrase(passphrase: Uint8Array, plaintext: Uint8Array, p2c: number, fields: Fields): Promise<string> {
  const p2s = randomFillSync(Buffer.alloc(16));
  const header = { alg: PBES2_ALG, enc: ENC, ...fields, p2s: p2s.toString("base64url"), p2c };
  const kek = await deriveKek(passphrase, p2s, p2c);
  const cek = randomFillSync(new Uint8Array(new ArrayBuffer(32)));
  try {
    return seal(cek, plaintext, header, b64(wrapKey(kek, cek)));
  } finally {
    kek.fill(0);
    cek.fill(0);
  }
}

/** Opens what sealWithPassphrase sealed, refusing more than maxP2c iterations. Throws JweError. */
export async function openWithPassphrase(passphrase: Uint8Array, jwe: string, maxP2c: number): Promise<Uint8Array> {
  const parts = split(jwe);
  const header = protectedHeader(parts[0]);
  if (header.alg !== PBES2_ALG) throw new JweError(`unexpected key management: ${String(header.alg)}`);
  const { p2c, p2s } = header;
  if (typeof p2c !== "number" || !Number.isInteger(p2c) || p2c < MIN_P2C || p2c > maxP2c)
    throw new JweError(`the iteration count (p2c) must be a whole number from ${MIN_P2C} to ${maxP2c}`);
  if (typeof p2s !== "string") throw new JweError("the salt (p2s) is missing");
  const salt = unb64(p2s);
  if (salt.length < 8) throw new JweError("the salt (p2s) is shorter than 8 bytes");
  const kek = await deriveKek(passphrase, salt, p2c);
  let cek: Uint8Array | undefined;
  try {
    cek = unwrapKey(kek, unb64(parts[1]));
    return open(cek, parts);
  } finally {
    kek.fill(0);
    cek?.fill(0);
  }
}

/** The five parts of a compact JWE. */
function split(jwe: string): [string, string, string, string, string] {
  const parts = jwe.split(".");
  if (parts.length !== 5) throw new JweError("not a compact JWE (five parts joined by dots)");
  return parts as [string, string, string, string, string];
}

function protectedHeader(encoded: string): Header {
  let header: unknown;
  try {
    header = JSON.parse(Buffer.from(encoded, "base64url").toString("utf8"));
  } catch {
    throw new JweError("the protected header is not JSON");
  }
  if (typeof header !== "object" || header === null || Array.isArray(header)) throw new JweError("the protected header is not an object");
  const fields = header as Header;
  // What this module does not do is refused, not skipped: a compressed or "critical" extension's
  // JWE means something else than what would be read.
  if ("zip" in fields || "crit" in fields) throw new JweError("compressed or critical-extension JWEs are not supported");
  if (fields.enc !== ENC) throw new JweError(`unexpected content encryption: ${String(fields.enc)}`);
  return fields;
}

function seal(cek: Uint8Array, plaintext: Uint8Array, header: Header, encryptedKey: string): string {
  const encodedHeader = Buffer.from(JSON.stringify(header), "utf8").toString("base64url");
  const iv = randomFillSync(Buffer.alloc(12));
  const cipher = createCipheriv("aes-256-gcm", cek, iv);
  cipher.setAAD(Buffer.from(encodedHeader, "ascii"));
  // Handed to the native cipher in a buffer of its own: a small array's bytes would be moved there.
  const input = unmovableCopy(plaintext);
  try {
    const ciphertext = Buffer.concat([cipher.update(input), cipher.final()]);
    return [encodedHeader, encryptedKey, b64(iv), b64(ciphertext), b64(cipher.getAuthTag())].join(".");
  } finally {
    input.fill(0);
  }
}

function open(cek: Uint8Array, parts: string[]): Uint8Array {
  const [encodedHeader, , iv, ciphertext, tag] = parts as [string, string, string, string, string];
  const ivBytes = unb64(iv);
  const tagBytes = unb64(tag);
  if (ivBytes.length !== 12 || tagBytes.length !== 16) throw new JweError("the IV or the tag has the wrong length");
  const decipher = createDecipheriv("aes-256-gcm", cek, ivBytes);
  decipher.setAAD(Buffer.from(encodedHeader, "ascii"));
  decipher.setAuthTag(tagBytes);
  // GCM hands the plaintext out before the tag is checked (in final()): zeroed if that fails.
  const out = decipher.update(unb64(ciphertext));
  try {
    decipher.final();
    return unmovableCopy(out);
  } catch {
    throw new JweError("does not decrypt: wrong key, or the JWE was changed");
  } finally {
    out.fill(0);
  }
}

/** PBES2-HS512+A256KW's key-encryption key (RFC 7518 4.8): PBKDF2-SHA512 over alg, 0, salt. */
function deriveKek(passphrase: Uint8Array, p2s: Uint8Array, p2c: number): Promise<Uint8Array> {
  const salt = Buffer.concat([Buffer.from(PBES2_ALG, "utf8"), Buffer.alloc(1), p2s]);
  const password = unmovableCopy(passphrase);
  return new Promise((resolve, reject) =>
    pbkdf2(password, salt, p2c, 32, "sha512", (err, key) => {
      password.fill(0);
      if (err) return reject(err);
      const copy = unmovableCopy(key);
      key.fill(0);
      resolve(copy);
    }),
  );
}

// AES Key Wrap (RFC 3394) of a 256-bit key under a 256-bit key: the runtime's node:crypto has no
// id-aes256-wrap cipher, so it is its six rounds over AES-256 blocks (ECB, one block at a time).
const KW_IV = Buffer.from("a6a6a6a6a6a6a6a6", "hex");

export function wrapKey(kek: Uint8Array, key: Uint8Array): Buffer {
  const n = key.length / 8;
  const aes = createCipheriv("aes-256-ecb", kek, null).setAutoPadding(false);
  const a = scratch(8);
  const r = scratch(key.length);
  const block = scratch(16);
  try {
    KW_IV.copy(a);
    r.set(key);
    for (let j = 0; j < 6; j++) {
      for (let i = 0; i < n; i++) {
        a.copy(block, 0);
        r.copy(block, 8, i * 8, i * 8 + 8);
        const b = aes.update(block);
        xorCounter(b, n * j + i + 1);
        b.copy(a, 0, 0, 8);
        b.copy(r, i * 8, 8, 16);
        b.fill(0);
      }
    }
    return Buffer.concat([a, r]);
  } finally {
    a.fill(0);
    r.fill(0);
    block.fill(0);
  }
}

/** The key wrapped by wrapKey, over an ArrayBuffer of its own; JweError when the check fails. */
export function unwrapKey(kek: Uint8Array, wrapped: Uint8Array): Uint8Array {
  if (wrapped.length !== 40) throw new JweError("the wrapped key has the wrong length");
  const n = wrapped.length / 8 - 1;
  const aes = createDecipheriv("aes-256-ecb", kek, null).setAutoPadding(false);
  const a = scratch(8);
  const r = new Uint8Array(new ArrayBuffer(n * 8));
  const block = scratch(16);
  try {
    a.set(wrapped.subarray(0, 8));
    r.set(wrapped.subarray(8));
    for (let j = 5; j >= 0; j--) {
      for (let i = n - 1; i >= 0; i--) {
        a.copy(block, 0);
        xorCounter(block, n * j + i + 1);
        block.set(r.subarray(i * 8, i * 8 + 8), 8);
        const b = aes.update(block);
        b.copy(a, 0, 0, 8);
        r.set(b.subarray(8, 16), i * 8);
        b.fill(0);
      }
    }
    if (!a.equals(KW_IV)) {
      r.fill(0);
      throw new JweError("does not decrypt: wrong passphrase, or the key was changed");
    }
    return r;
  } finally {
    a.fill(0);
    block.fill(0);
  }
}

/** XORs t, big-endian, into the first 8 bytes (the wrap's A register). */
function xorCounter(block: Uint8Array, t: number): void {
  for (let k = 7; k >= 0 && t > 0; k--, t = Math.floor(t / 256)) block[k]! ^= t & 0xff;
}

/**
 * A zeroed buffer over an ArrayBuffer of its own, for bytes derived from a key: native calls move a
 * small array's bytes (secret.ts unmovableCopy), a view over its own ArrayBuffer stays put.
 */
const scratch = (n: number) => Buffer.from(new ArrayBuffer(n));
const b64 = (bytes: Uint8Array) => Buffer.from(bytes).toString("base64url");
const unb64 = (text: string) => Buffer.from(text, "base64url");
