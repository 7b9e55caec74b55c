import { formatCountdown } from "../../duration.ts";
import { EXIT } from "../../exit-codes.ts";
import { credentialName, defineCommand } from "../command.ts";
import { agentOf } from "../agent.ts";

const usage = `usage: credagent refresh NAME [--json]

Makes the agent fetch a new token for NAME now, whatever the one it holds.
Prints when the new token expires (the token itself only with --json).`;

export const refresh = defineCommand("refresh", usage, { json: { type: "boolean" } }, async ({ values, positionals }, ctx) => {
  const name = credentialName(positionals);
  const token = await agentOf(ctx).refresh(name);
  ctx.out(
    values.json
      ? `${JSON.stringify(token, null, 2)}\n`
      : `${name}: refreshed, expires in ${formatCountdown(token.expires_in * 1000)} (${token.expires_at})\n`,
  );
  return EXIT.ok;
});
