import { formatCountdown } from "../../duration.ts";
import { EXIT } from "../../exit-codes.ts";
import { CredagentError } from "../../errors.ts";
import type { ConfigStatus, CredentialSummary, StoreStatus } from "../../wire/types.ts";
import type { AgentApi } from "../../client/client.ts";
import { defineCommand, noPositionals } from "../command.ts";
import { credentialRows } from "../output/credentials.ts";
import { table } from "../output/table.ts";
import { fileRows } from "./files.ts";
import { agentOf } from "../agent.ts";
import { printable, printableLines, terminalSafeJson } from "../../printable.ts";

const usage = `usage: credagent status [--json]

Shows the agent (pid, socket, uptime, version, and whether it is locked), its config file (when it
was loaded, and why the last reload failed, if it did), its secret store (open, closed until first
use, or locked: waiting for 'credagent unlock'), which store that is and why it was chosen, each
credential's state, expiry and last error (names and states also while the agent is locked; never
a token), and the files it keeps fresh (see credagent files) with the last error of each, its
on_change program's included. Exit status 3 when no agent answers.`;

export const status = defineCommand("status", usage, { json: { type: "boolean" } }, async ({ values, positionals }, ctx) => {
  noPositionals(positionals);
  const client = agentOf(ctx);
  // An agent older than kept files answers 404 there: it has none.
  const [health, credentials, files] = await Promise.all([
    client.health(),
    listEvenIfLocked(client),
    client.files().then(
      (r) => r.files,
      () => [],
    ),
  ]);
  const now = Date.now();
  const uptimeSeconds = Math.max(0, Math.floor((now - Date.parse(health.started_at)) / 1000));
  if (values.json) {
    ctx.out(
      `${terminalSafeJson(JSON.stringify({ agent: { ...health, uptime_seconds: uptimeSeconds }, credentials: credentials ?? [], files }, null, 2))}\n`,
    );
    return EXIT.ok;
  }
  ctx.out(`agent pid ${health.pid}, socket ${health.socket}, up ${formatCountdown(uptimeSeconds * 1000 + 1)}, version ${health.version}\n`);
  if (health.locked) ctx.out("locked: tokens and secrets dropped from memory; 'credagent unlock' unlocks it\n");
  if (health.config) ctx.out(configLines(health.config));
  if (health.store) ctx.out(storeLines(health.store));
  if (credentials === null) ctx.out("credentials: not listed by this agent while it is locked\n");
  else if (credentials.length === 0) ctx.out("no credentials configured\n");
  else ctx.out(table(["NAME", "SOURCE", "STATE", "EXPIRES", "LAST ERROR"], credentialRows(credentials, now)));
  for (const c of credentials ?? []) if (c.note) ctx.out(`note: ${c.name}: ${printable(c.note)}\n`);
  if (files.length > 0)
    ctx.out(`\nkept files:\n${table(["FILE", "PATH", "STATE", "WRITTEN", "CREDENTIALS", "LAST ERROR"], fileRows(files))}`);
  return EXIT.ok;
});

/** The credentials; null from an agent that refuses the list while locked (older versions). */
async function listEvenIfLocked(client: AgentApi): Promise<CredentialSummary[] | null> {
  try {
    return (await client.list()).credentials;
  } catch (err) {
    if (err instanceof CredagentError && err.code === "locked") return null;
    throw err;
  }
}

function storeLines(store: StoreStatus): string {
  let text = `store ${store.state}: ${printable(store.description)}\n`;
  if (store.reason) text += `  ${store.state === "open" ? "in use" : "to be used"} because ${printable(store.reason)}\n`;
  if (store.state === "locked" && store.needed_by)
    text +=
      store.needed_by.length > 0
        ? `  needed by ${store.needed_by.join(", ")}\n`
        : "  no credential needs it (tokens are cached there once it is open)\n";
  return text;
}

function configLines(config: ConfigStatus): string {
  const file = config.exists ? config.path : `${config.path} (absent: no credentials)`;
  let text = `config ${file}, loaded ${config.loaded_at}\n`;
  if (config.last_reload_error !== null) {
    text += `last reload failed at ${config.last_reload_at}; the config loaded before stays in force:\n`;
    text += `${printableLines(config.last_reload_error).replace(/^/gm, "  ")}\n`;
  }
  return text;
}
