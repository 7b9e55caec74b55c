// bun test/support/store-copies.ts os SERVICE | file DIR: writes a secret of 64 pattern bytes (never a
// string) through the OS keyring's store (service SERVICE) or a new encrypted file store in DIR (an
// empty directory the caller made and removes, its passphrase another 64-byte pattern), zeroes
// it, then reads it back four times, each time taking a subarray of it (as the token cache's parser
// does) and zeroing it, then closes the store; after each step it prints how many times the value's pattern (twice) and the
// passphrase's (once, the file store) stand in this process's own memory: "1 1 1" (the needles it
// searches with) when no copy is left. A copy counts as the bytes in a row, or as an array of
// numbers holds them (the keyring library's getSecret answers with one: each byte in a JSValue of
// its own). The file store printed "3 3 2" while its JWE went through jose and the runtime's
// WebCrypto, which copied the plaintext and the passphrase; now through node:crypto (jwe.ts).
// Freed glibc memory is overwritten as in the agent (M_PERTURB; run it with the agent's
// GLIBC_TUNABLES). The OS keyring's entry is deleted again; the OS keyring needs a Secret Service
// on the session bus.
import { closeSync, openSync, readFileSync, readSync } from "node:fs";
import { overwriteFreedNativeMemory } from "../../src/platform/process-hardening.ts";
import { Secret } from "../../src/secret.ts";
import { FileStore } from "../../src/store/file.ts";
import { OsKeyringStore } from "../../src/store/keyring.ts";
import type { SecretStore } from "../../src/store/store.ts";

const N = 64;
const pattern = (out: Uint8Array, at = 0, step = 37) => {
  for (let i = 0; i < N; i++) out[at + i] = (i * step + 11) & 0xff;
};
const [kind, name] = [process.argv[2]!, process.argv[3]!];
const problem = overwriteFreedNativeMemory();
if (problem) throw new Error(problem);
let passphrase: Secret | undefined;
let store: SecretStore;
if (kind === "file") {
  const pass = new Uint8Array(80);
  pattern(pass, 8, 53);
  passphrase = new Secret(pass);
  store = await FileStore.open(name, passphrase);
} else {
  store = await OsKeyringStore.open(name);
}
// A record-sized value, as the token cache writes: a small array, its bytes in the heap object.
const value = new Uint8Array(200);
pattern(value, 8);
const secret = new Secret(value);
await store.set("copies", secret);
secret.wipe();
const afterWrite = await copies(37);
// Read back a few times, as the agent does at each start and unlock: a copy each read leaves is
// then found even where the allocator reused the memory of some of them.
for (let i = 0; i < 4; i++) {
  const read = await store.get("copies");
  if (read?.bytes()[8] !== 11) throw new Error("the value did not come back");
  void read.bytes().subarray(8, 9);
  read.wipe();
}
await store.delete("copies");
const afterRead = await copies(37);
store.close?.();
passphrase?.wipe();
const passphrases = kind === "file" ? await copies(53) : 1;
console.log(afterWrite, afterRead, passphrases);

/**
 * How many times the pattern of `step` stands in this process's memory, without collecting first:
 * garbage not yet collected is memory too, and what a collection frees is not zeroed either (the
 * library's arrays of numbers were found each run this way, one run in four after collecting).
 */
async function copies(step: number): Promise<number> {
  const needle = new Uint8Array(new ArrayBuffer(N));
  pattern(needle, 0, step);
  // The same bytes as an array of numbers holds them (the keyring library hands a value over as
  // one): each a JSValue of 8 bytes, the byte then 0 0 0 0 0 0xfe 0xff (an int32, little-endian).
  const boxed = new Uint8Array(new ArrayBuffer(N * 8));
  for (let i = 0; i < N; i++) boxed.set([needle[i]!, 0, 0, 0, 0, 0, 0xfe, 0xff], i * 8);
  const fd = openSync("/proc/self/mem", "r");
  const chunk = Buffer.alloc(1 << 20);
  let hits = 0;
  for (const line of readFileSync("/proc/self/maps", "utf8").split("\n")) {
    const m = /^([0-9a-f]+)-([0-9a-f]+) r/.exec(line);
    if (!m || /\[(vvar|vsyscall|vdso)\]/.test(line)) continue;
    const [start, end] = [Number.parseInt(m[1]!, 16), Number.parseInt(m[2]!, 16)];
    for (let at = start; at < end; at += chunk.length) {
      let n = 0;
      try {
        n = readSync(fd, chunk, 0, Math.min(chunk.length, end - at), at);
      } catch {
        continue;
      }
      const view = chunk.subarray(0, n);
      for (let i = view.indexOf(needle); i >= 0; i = view.indexOf(needle, i + 1)) hits++;
      for (let i = view.indexOf(boxed); i >= 0; i = view.indexOf(boxed, i + 1)) hits++;
    }
  }
  closeSync(fd);
  needle.fill(0);
  boxed.fill(0);
  // Each needle finds itself once; one is counted.
  return hits - 1;
}
