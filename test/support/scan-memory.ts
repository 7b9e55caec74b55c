import { resolve } from "node:path";

/** For each string, the 24 bytes before every place it stands in the process's memory (root only: scan-memory.py). */
export function scanMemory(pid: number, ...needles: string[]): Record<string, string[]> {
  const r = Bun.spawnSync(["python3", resolve(import.meta.dir, "scan-memory.py"), String(pid), ...needles], { timeout: 20_000 });
  if (r.exitCode !== 0) throw new Error(`memory scan failed (${r.exitCode}): ${r.stderr.toString()}`);
  return JSON.parse(r.stdout.toString());
}
