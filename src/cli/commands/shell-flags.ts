import { dialectFromShell, type ShellDialect } from "../output/shell.ts";
import { UsageError } from "../io.ts";

/** The -s/-c/--fish/--powershell flags shared by start and stop. */
export const shellOptions = {
  sh: { type: "boolean", short: "s" },
  csh: { type: "boolean", short: "c" },
  fish: { type: "boolean" },
  powershell: { type: "boolean" },
} as const;

export function chosenDialect(values: Partial<Record<ShellDialect, unknown>>): ShellDialect | undefined {
  const chosen = (["sh", "csh", "fish", "powershell"] as const).filter((d) => values[d] === true);
  if (chosen.length > 1) throw new UsageError("choose one of -s, -c, --fish and --powershell");
  return chosen[0];
}

/** The dialect a flag asks for, else the one $SHELL names. */
export function shellDialect(values: Partial<Record<ShellDialect, unknown>>, shell: string | undefined): ShellDialect {
  return chosenDialect(values) ?? dialectFromShell(shell);
}
