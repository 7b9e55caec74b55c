import { EXIT } from "../../exit-codes.ts";
import { credentialName, defineCommand } from "../command.ts";
import { agentOf } from "../agent.ts";

const usage = `usage: credagent connection NAME [--json]

Prints the connection string of the config's [connections.NAME], filled in from its credential's
current user name and password (each escaped for the string's format), for
$(credagent connection NAME). It holds the password: prefer 'credagent exec --env VAR=@NAME'.

  --json   the whole answer: name, credential, connection_string, expires_at, expires_in`;

export const connection = defineCommand("connection", usage, { json: { type: "boolean" } }, async ({ values, positionals }, ctx) => {
  const name = credentialName(positionals);
  const answer = await agentOf(ctx).connection(name);
  ctx.out(values.json ? `${JSON.stringify(answer, null, 2)}\n` : `${answer.connection_string}\n`);
  return EXIT.ok;
});
