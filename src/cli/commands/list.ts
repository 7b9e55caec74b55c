import { EXIT } from "../../exit-codes.ts";
import { defineCommand, noPositionals } from "../command.ts";
import { credentialRows } from "../output/credentials.ts";
import { table } from "../output/table.ts";
import { agentOf } from "../agent.ts";
import { terminalSafeJson } from "../../printable.ts";

const usage = `usage: credagent list [--json]

Lists the agent's credentials: name, source, state and expiry (never a token).`;

export const list = defineCommand("list", usage, { json: { type: "boolean" } }, async ({ values, positionals }, ctx) => {
  noPositionals(positionals);
  const { credentials } = await agentOf(ctx).list();
  if (values.json) ctx.out(`${terminalSafeJson(JSON.stringify(credentials, null, 2))}\n`);
  else if (credentials.length === 0) ctx.out("no credentials configured\n");
  else
    ctx.out(
      table(
        ["NAME", "SOURCE", "STATE", "EXPIRES"],
        credentialRows(credentials, Date.now()).map((r) => r.slice(0, 4)),
      ),
    );
  return EXIT.ok;
});
