import { EXIT } from "../../exit-codes.ts";
import { defineCommand } from "../command.ts";
import { UsageError } from "../io.ts";
import { table } from "../output/table.ts";
import { agentOf } from "../agent.ts";

const usage = `usage: credagent approve [ID] [--deny]

For credentials with confirm = true: without ID, lists the requests waiting for your answer;
with ID, allows that program to fetch that credential for the agent's lifetime (--deny refuses
it). A request made through \`credagent get\` (or env, exec) is listed under the program that ran
credagent. Must be run from a terminal, in another terminal session than the program that asks,
and not from a process that program started.`;

export const approve = defineCommand("approve", usage, { deny: { type: "boolean" } }, async ({ values, positionals }, ctx) => {
  if (positionals.length > 1) throw new UsageError(`unexpected argument '${positionals[1]}'`);
  const client = agentOf(ctx);
  const [id] = positionals;
  if (id === undefined) {
    if (values.deny) throw new UsageError("--deny needs the ID of a request");
    const { approvals } = await client.approvals();
    if (approvals.length === 0) ctx.out("no requests are waiting for approval\n");
    else
      ctx.out(
        table(
          ["ID", "CREDENTIAL", "PID", "EXECUTABLE"],
          approvals.map((a) => [a.id, a.credential, String(a.pid), a.exe]),
        ),
      );
    return EXIT.ok;
  }
  await client.answerApproval(id, !values.deny);
  ctx.err(`credagent: request ${id} ${values.deny ? "denied" : "approved"}\n`);
  return EXIT.ok;
});
