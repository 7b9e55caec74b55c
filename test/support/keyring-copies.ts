// bun test/support/keyring-copies.ts SERVICE: writes a secret of 64 pattern bytes (never a string)
// to the OS keyring through OsKeyringStore and zeroes it, then reads it back, takes a subarray of it
// (as the token cache's parser does) and zeroes that; after each, collects and prints how many
// times the pattern stands in this process's own memory: "1 1" (the needle it searches with) when
// no copy is left. Freed glibc memory is overwritten as in the agent (M_PERTURB; run it with the
// agent's GLIBC_TUNABLES). Deletes the entry again. Needs a Secret Service on the session bus.
import { closeSync, openSync, readFileSync, readSync } from "node:fs";
import { overwriteFreedNativeMemory } from "../../src/platform/process-hardening.ts";
import { Secret } from "../../src/secret.ts";
import { OsKeyringStore } from "../../src/store/keyring.ts";

const N = 64;
const pattern = (out: Uint8Array, at = 0) => {
  for (let i = 0; i < N; i++) out[at + i] = (i * 37 + 11) & 0xff;
};
const service = process.argv[2]!;
const problem = overwriteFreedNativeMemory();
if (problem) throw new Error(problem);
const store = await OsKeyringStore.open(service);
// A record-sized value, as the token cache writes: a small array, its bytes in the heap object.
const value = new Uint8Array(200);
pattern(value, 8);
const secret = new Secret(value);
await store.set("copies", secret);
secret.wipe();
const afterWrite = await copies();
const read = await store.get("copies");
if (read?.bytes()[8] !== 11) throw new Error("the value did not come back");
void read.bytes().subarray(8, 9);
read.wipe();
await store.delete("copies");
console.log(afterWrite, await copies());

async function copies(): Promise<number> {
  Bun.gc(true);
  await Bun.sleep(50);
  Bun.gc(true);
  const needle = new Uint8Array(new ArrayBuffer(N));
  pattern(needle);
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
    }
  }
  closeSync(fd);
  needle.fill(0);
  return hits;
}
