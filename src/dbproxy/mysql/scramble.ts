import { constants, createHash, publicEncrypt } from "node:crypto";
import { etc, Point } from "@noble/ed25519";

// The answers to a server's scramble that the proxy computes from the password. Written here over
// bytes (so every intermediate holding the password or a hash of it is zeroed) rather than taken
// from mysql2, whose plugins take the password as a string; unit tests check each against mysql2's
// own functions (test/unit/dbproxy/mysql/scramble.test.ts) and the e2e tests against MariaDB.

function hash(algorithm: "sha1" | "sha256" | "sha512", ...parts: Uint8Array[]): Buffer {
  const h = createHash(algorithm);
  for (const p of parts) h.update(p);
  return h.digest();
}

function xorInto(target: Uint8Array, mask: Uint8Array): Uint8Array {
  for (let i = 0; i < target.length; i++) target[i]! ^= mask[i]!;
  return target;
}

/** mysql_native_password: SHA1(pw) XOR SHA1(scramble, SHA1(SHA1(pw))); empty for an empty password. */
export function nativePasswordToken(password: Uint8Array, scramble: Uint8Array): Uint8Array {
  if (password.length === 0) return new Uint8Array(0);
  const stage1 = hash("sha1", password);
  const stage2 = hash("sha1", stage1);
  const mask = hash("sha1", scramble.subarray(0, 20), stage2);
  stage2.fill(0);
  return xorInto(stage1, mask);
}

/** caching_sha2_password's fast path: SHA256(pw) XOR SHA256(SHA256(SHA256(pw)), scramble). */
export function cachingSha2Token(password: Uint8Array, scramble: Uint8Array): Uint8Array {
  if (password.length === 0) return new Uint8Array(0);
  const stage1 = hash("sha256", password);
  const stage2 = hash("sha256", stage1);
  const mask = hash("sha256", stage2, scramble.subarray(0, 20));
  stage2.fill(0);
  return xorInto(stage1, mask);
}

/** The password and its NUL, as sent in the clear (over TLS only) in caching_sha2_password's full authentication. */
export function nulTerminated(password: Uint8Array): Uint8Array {
  const out = new Uint8Array(password.length + 1);
  out.set(password);
  return out;
}

/**
 * caching_sha2_password's full authentication without TLS: the password and its NUL, XOR the
 * scramble repeated, encrypted to the server's RSA key with OAEP (SHA-1), as libmysqlclient does.
 */
export function rsaEncryptedPassword(password: Uint8Array, scramble: Uint8Array, publicKeyPem: string): Uint8Array {
  const plain = nulTerminated(password);
  const seed = scramble.subarray(0, 20);
  for (let i = 0; i < plain.length; i++) plain[i]! ^= seed[i % seed.length]!;
  try {
    return publicEncrypt({ key: publicKeyPem, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: "sha1" }, plain);
  } finally {
    plain.fill(0);
  }
}

const N = Point.CURVE().n;

function littleEndian(bytes: Uint8Array): bigint {
  let v = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(bytes[i]!);
  return v;
}

function toLittleEndian32(v: bigint): Uint8Array {
  const out = new Uint8Array(32);
  for (let i = 0; i < 32; i++) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return out;
}

/**
 * MariaDB's client_ed25519 (plugin/auth_ed25519/ref10 crypto_sign): an Ed25519 signature of the
 * server's nonce by the key whose RFC 8032 "hashed seed" is SHA-512 of the password itself (any
 * length; RFC 8032 hashes a 32-byte seed, so for a 32-byte password both are the same signature).
 * The server stores the public key: `ed25519Public` is what MariaDB's ed25519_password() gives.
 * @noble/ed25519 gives the curve arithmetic; its sign() takes only a 32-byte seed.
 */
export function ed25519Signature(password: Uint8Array, message: Uint8Array): Uint8Array {
  const { scalar, prefix, publicKey, wipe } = expand(password);
  try {
    const r = etc.mod(littleEndian(hash("sha512", prefix, message)), N);
    const R = Point.BASE.multiply(r).toBytes();
    const k = etc.mod(littleEndian(hash("sha512", R, publicKey, message)), N);
    const S = etc.mod(r + k * scalar, N);
    const out = new Uint8Array(64);
    out.set(R);
    out.set(toLittleEndian32(S), 32);
    return out;
  } finally {
    wipe();
  }
}

export function ed25519Public(password: Uint8Array): Uint8Array {
  const { publicKey, wipe } = expand(password);
  wipe();
  return publicKey;
}

function expand(password: Uint8Array) {
  const h = hash("sha512", password);
  h[0]! &= 248;
  h[31]! &= 127;
  h[31]! |= 64;
  // bigints cannot be zeroed; the bytes they came from are.
  const scalar = etc.mod(littleEndian(h.subarray(0, 32)), N);
  const prefix = h.subarray(32);
  return { scalar, prefix, publicKey: Point.BASE.multiply(scalar).toBytes(), wipe: () => h.fill(0) };
}
