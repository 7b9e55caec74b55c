import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { withAgentMallocTunables } from "../../src/platform/malloc-tunables.ts";

/**
 * Runs store-copies.ts (in a process of its own, with the agent's malloc settings) for one store:
 * its exit code, what it printed ("1 1 1" when no copy is left) and its stderr. The file store's
 * directory is made and removed here, so that a run killed at its timeout leaves nothing behind.
 */
export function storeCopies(kind: "os" | "file", name: string): { code: number | null; copies: string; stderr: string } {
  const dir = kind === "file" ? mkdtempSync(join(tmpdir(), `${name}-`)) : null;
  try {
    const r = Bun.spawnSync([process.execPath, join(import.meta.dir, "store-copies.ts"), kind, dir ?? name], {
      env: withAgentMallocTunables(process.env as Record<string, string>),
      timeout: 30_000,
    });
    return { code: r.exitCode, copies: r.stdout.toString().trim(), stderr: r.stderr.toString() };
  } finally {
    if (dir) rmSync(dir, { recursive: true, force: true });
  }
}

/** What storeCopies gives when nothing is left behind. */
export const NO_COPY = { code: 0, copies: "1 1 1", stderr: "" };
