import { AgentClient } from "../../client/client.ts";
import { EXIT } from "../../exit-codes.ts";
import type { Command } from "../command.ts";
import { noPositionals, parseCommandArgs } from "../command.ts";
import { reportError } from "../io.ts";
import { credentialRows } from "../output/credentials.ts";
import { table } from "../output/table.ts";

const usage = `usage: credagent list [--json]

Lists the agent's credentials: name, source, state and expiry (never a token).`;

export const list: Command = {
  name: "list",
  usage,
  async run(argv, ctx) {
    try {
      const { values, positionals } = parseCommandArgs(argv, { json: { type: "boolean" } });
      if (values.help) return ctx.out(`${usage}\n`), EXIT.ok;
      noPositionals(positionals);
      const { credentials } = await new AgentClient(ctx.socketPath()).list();
      if (values.json) ctx.out(`${JSON.stringify(credentials, null, 2)}\n`);
      else if (credentials.length === 0) ctx.out("no credentials configured\n");
      else ctx.out(table(["NAME", "SOURCE", "STATE", "EXPIRES"], credentialRows(credentials, Date.now()).map((r) => r.slice(0, 4))));
      return EXIT.ok;
    } catch (err) {
      return reportError(ctx, "list", err, usage);
    }
  },
};
