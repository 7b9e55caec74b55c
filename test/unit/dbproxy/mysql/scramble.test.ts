import { expect, test } from "bun:test";
import { createPrivateKey, generateKeyPairSync, privateDecrypt, constants, sign, verify, createPublicKey, randomBytes } from "node:crypto";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import {
  cachingSha2Token,
  ed25519Public,
  ed25519Signature,
  nativePasswordToken,
  rsaEncryptedPassword,
} from "../../../../src/dbproxy/mysql/scramble.ts";

// The proxy's scrambles against mysql2's own (its auth_41 and caching_sha2_password plugin, the
// code its client logs in with) and, for client_ed25519, against node:crypto's RFC 8032 Ed25519.
const require = createRequire(import.meta.url);
// Its internals by file path: the package's exports map names only its entry points.
const mysql2 = dirname(require.resolve("mysql2/package.json"));
const auth41 = require(join(mysql2, "lib/auth_41.js")) as {
  calculateToken(password: string, s1: Buffer, s2: Buffer): Buffer;
  verifyToken(s1: Buffer, s2: Buffer, token: Buffer, doubleSha: Buffer): boolean;
};
const sha2 = require(join(mysql2, "lib/auth_plugins/caching_sha2_password.js")) as {
  calculateToken(password: string, scramble: Buffer): Buffer;
};

const bytes = (s: string) => new TextEncoder().encode(s);
const scramble = Buffer.from("0123456789abcdefghij");

test("mysql_native_password: the same token as mysql2's, for ASCII and UTF-8 passwords; empty for no password", () => {
  for (const password of ["secret", "pässwörd-with-ünïcode", "x".repeat(300)]) {
    const mine = Buffer.from(nativePasswordToken(bytes(password), scramble));
    expect(mine.toString("hex")).toBe(auth41.calculateToken(password, scramble.subarray(0, 8), scramble.subarray(8)).toString("hex"));
  }
  // A vector computed by hand from the algorithm (SHA1(pw) XOR SHA1(scramble + SHA1(SHA1(pw)))).
  expect(Buffer.from(nativePasswordToken(bytes("secret"), scramble)).length).toBe(20);
  expect(nativePasswordToken(new Uint8Array(0), scramble).length).toBe(0);
});

test("caching_sha2_password: the same fast-auth token as mysql2's", () => {
  for (const password of ["secret", "pässwörd", "y".repeat(100)]) {
    expect(Buffer.from(cachingSha2Token(bytes(password), scramble)).toString("hex")).toBe(
      sha2.calculateToken(password, scramble).toString("hex"),
    );
  }
});

test("caching_sha2_password full authentication: the server's private key recovers the password", () => {
  const { publicKey, privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const pem = publicKey.export({ type: "spki", format: "pem" }).toString();
  const sealed = rsaEncryptedPassword(bytes("a long password, longer than the twenty-byte scramble"), scramble, pem);
  const opened = privateDecrypt({ key: privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: "sha1" }, sealed);
  for (let i = 0; i < opened.length; i++) opened[i]! ^= scramble[i % 20]!;
  expect(opened.toString()).toBe("a long password, longer than the twenty-byte scramble\0");
});

test("client_ed25519: a 32-byte password signs exactly as RFC 8032 Ed25519 with that seed; any length verifies under ed25519Public", () => {
  const seed = randomBytes(32);
  const message = randomBytes(32);
  const rfc = createPrivateKey({
    key: Buffer.concat([Buffer.from("302e020100300506032b657004220420", "hex"), seed]),
    format: "der",
    type: "pkcs8",
  });
  expect(Buffer.from(ed25519Signature(seed, message)).toString("hex")).toBe(sign(null, message, rfc).toString("hex"));
  expect(Buffer.from(ed25519Public(seed)).toString("hex")).toBe(
    createPublicKey(rfc).export({ format: "der", type: "spki" }).subarray(-32).toString("hex"),
  );
  for (const password of ["short", "a password of some length, not 32 bytes", ""]) {
    const pub = createPublicKey({
      key: Buffer.concat([Buffer.from("302a300506032b6570032100", "hex"), ed25519Public(bytes(password))]),
      format: "der",
      type: "spki",
    });
    expect(verify(null, message, pub, ed25519Signature(bytes(password), message))).toBe(true);
    expect(verify(null, randomBytes(32), pub, ed25519Signature(bytes(password), message))).toBe(false);
  }
});
