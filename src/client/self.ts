// How to run this same program again: the compiled binary is its own execPath; under
// `bun src/main.ts` (development) the script must be named too.
export function selfCommand(): string[] {
  const main = Bun.main;
  // Inside a compiled binary: /$bunfs/… on Unix, B:\~BUN\… or B:/~BUN/… on Windows.
  const compiled = main.startsWith("/$bunfs/") || /^[A-Z]:[\\/]~BUN[\\/]/i.test(main);
  return compiled ? [process.execPath] : [process.execPath, main];
}

/** The environment for a child we start: without variables that make Bun run foreign code. */
export function cleanChildEnv(env: Record<string, string | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(env)) {
    if (value === undefined) continue;
    if (key === "BUN_OPTIONS" || key === "NODE_OPTIONS" || key === "BUN_INSPECT" || key === "BUN_INSPECT_CONNECT_TO") continue;
    out[key] = value;
  }
  return out;
}
