import { restartNotice } from "../../config/start-only.ts";
import { describeSectionChange } from "../../config/changes.ts";
import { EXIT } from "../../exit-codes.ts";
import type { ReloadResponse } from "../../wire/types.ts";
import { defineCommand, noPositionals } from "../command.ts";
import { agentOf } from "../agent.ts";
import { terminalSafeJson } from "../../printable.ts";

const usage = `usage: credagent reload [--json]

Makes the running agent read its config file again (the same as sending it SIGHUP) and prints what
changed: credentials added, changed (their tokens are fetched anew), removed and kept, and the
entries added, changed or removed in [connections], [git], [docker] (in effect at once), [databases]
and [endpoints] (applied at the next start: their listeners are made then). When the file is invalid,
says why and exits 1: the previous config stays in force. Settings read only at start ([agent],
keyring, file_passphrase_file, databases, endpoints) are named when they changed; they need a restart.`;

export const reload = defineCommand("reload", usage, { json: { type: "boolean" } }, async ({ values, positionals }, ctx) => {
  noPositionals(positionals);
  const outcome = await agentOf(ctx).reload();
  if (values.json) ctx.out(`${terminalSafeJson(JSON.stringify(outcome, null, 2))}\n`);
  else ctx.out(describeOutcome(outcome));
  if (outcome.start_only_changed.length > 0) ctx.err(`credagent reload: ${restartNotice(outcome.start_only_changed)}\n`);
  return EXIT.ok;
});

function describeOutcome(outcome: ReloadResponse): string {
  const names = (list: string[]) => (list.length === 0 ? "-" : list.join(", "));
  return [
    `reloaded ${outcome.config.path}${outcome.config.exists ? "" : " (absent: no credentials)"}`,
    `  added:   ${names(outcome.added)}`,
    `  changed: ${names(outcome.changed)}`,
    `  removed: ${names(outcome.removed)}`,
    `  kept:    ${names(outcome.kept)}`,
    ...(outcome.sections ?? []).map(
      (c) => `  [${c.section}] ${describeSectionChange(c)}${c.at_start ? " (applies at the next start)" : " (in effect now)"}`,
    ),
    "",
  ].join("\n");
}
