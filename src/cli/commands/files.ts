import { EXIT } from "../../exit-codes.ts";
import type { FileSummary } from "../../wire/types.ts";
import { defineCommand, noPositionals } from "../command.ts";
import { table } from "../output/table.ts";
import { agentOf } from "../agent.ts";
import { terminalSafeJson } from "../../printable.ts";

const usage = `usage: credagent files [--json]

Lists the files the agent keeps fresh ([files.NAME] in the config, and the pgpass file of the
connections' pgpass entries): name, path, state, when it was last written, the credentials whose
values it holds (never a value), and the last error, of writing it or of its on_change program.

  --json   the whole listing, as GET /v1/files answers it`;

export const files = defineCommand("files", usage, { json: { type: "boolean" } }, async ({ values, positionals }, ctx) => {
  noPositionals(positionals);
  const { files } = await agentOf(ctx).files();
  if (values.json) ctx.out(`${terminalSafeJson(JSON.stringify(files, null, 2))}\n`);
  else if (files.length === 0) ctx.out("no files kept (the config has no [files.NAME])\n");
  else ctx.out(table(["NAME", "PATH", "STATE", "WRITTEN", "CREDENTIALS", "LAST ERROR"], fileRows(files)));
  return EXIT.ok;
});

export function fileRows(files: FileSummary[]): string[][] {
  return files.map((f) => [f.name, f.path, f.state, f.written_at ?? "-", f.credentials.join(",") || "-", lastError(f)]);
}

/** The file's own error, else its on_change program's last failure. */
export function lastError(f: FileSummary): string {
  if (f.error) return f.error;
  if (f.on_change && !f.on_change.ok) return `on_change at ${f.on_change.ran_at}: ${f.on_change.error}`;
  return "";
}
