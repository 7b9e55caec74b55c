import { parseDuration } from "../../duration.ts";
import { EXIT } from "../../exit-codes.ts";
import { CREDENTIAL_NAME } from "../../wire/types.ts";
import { defineCommand } from "../command.ts";
import { UsageError } from "../io.ts";
import { agentOf } from "../agent.ts";

const usage = `usage: credagent render NAME [--min-valid DUR]

Prints one rendering of the config's [files.NAME] to standard output, from fresh values, without
writing the file: for one-off use such as 'credagent render k8s-secret | kubectl apply -f -'. It
holds secrets: send it to a program, not to a terminal or a file others can read. The allow rules
and confirm of each credential in it apply.

  --min-valid DUR   values valid for at least this long (e.g. 10m), refreshed first if needed`;

export const render = defineCommand("render", usage, { "min-valid": { type: "string" } }, async ({ values, positionals }, ctx) => {
  if (positionals.length !== 1) throw new UsageError(positionals.length === 0 ? "missing the file NAME" : "expected one file NAME");
  const name = positionals[0]!;
  if (!CREDENTIAL_NAME.test(name)) throw new UsageError(`'${name}' is not a file name (1 to 128 letters, digits, '.', '_' or '-')`);
  const minValidText = values["min-valid"];
  const minValid = minValidText === undefined ? undefined : parseDuration(minValidText);
  if (minValidText !== undefined && minValid === undefined) throw new UsageError("--min-valid takes a duration such as 90s or 10m");
  const answer = await agentOf(ctx).fileContent(name, minValid === undefined ? undefined : Math.ceil(minValid / 1000));
  ctx.out(answer.content);
  return EXIT.ok;
});
