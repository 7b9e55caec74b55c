import { printable } from "../../printable.ts";

/**
 * Left-aligned columns separated by two spaces; the last column is not padded. Cells are shown
 * printable: a peer's executable path or a source's error output cannot act on the terminal.
 */
export function table(header: string[], rows: string[][]): string {
  const all = [header, ...rows.map((r) => r.map(printable))];
  const widths = header.map((_, i) => Math.max(...all.map((r) => (r[i] ?? "").length)));
  return all
    .map((r) =>
      r
        .map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)))
        .join("  ")
        .trimEnd(),
    )
    .join("\n")
    .concat("\n");
}
