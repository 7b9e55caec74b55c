import { readdirSync, readFileSync } from "node:fs";

// Looks for a secret in every process's command line and environment, as /proc shows them to root
// (or to the processes' own user): where a password must never be while a login runs.

export interface Sighting {
  pid: number;
  where: "cmdline" | "environ";
  command: string;
}

/** Every process whose argv or environment holds `needle`, now. */
export function processesHolding(needle: string): Sighting[] {
  const bytes = Buffer.from(needle);
  const found: Sighting[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    for (const where of ["cmdline", "environ"] as const) {
      let content: Buffer;
      try {
        content = readFileSync(`/proc/${entry}/${where}`);
      } catch {
        continue; // gone meanwhile, or a kernel thread
      }
      if (content.includes(bytes)) {
        let command = "?";
        try {
          command = readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0").join(" ").trim().slice(0, 120);
        } catch {}
        found.push({ pid: Number(entry), where, command });
      }
    }
  }
  return found;
}

/** Scans again and again until stop() is called; returns every sighting and how many scans ran. */
export function watchProcesses(needle: string): { stop(): Promise<{ sightings: Sighting[]; scans: number }> } {
  const sightings: Sighting[] = [];
  let scans = 0;
  let running = true;
  const loop = (async () => {
    while (running) {
      sightings.push(...processesHolding(needle));
      scans += 1;
      await Bun.sleep(5);
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return { sightings, scans };
    },
  };
}
