import { AgentClient } from "../../client/client.ts";
import { EXIT } from "../../exit-codes.ts";
import { CREDENTIAL_NAME } from "../../wire/types.ts";
import type { Command } from "../command.ts";
import { parseCommandArgs } from "../command.ts";
import { reportError, UsageError } from "../io.ts";

const usage = `usage: credagent exec [--env VAR=NAME]... [--min-valid-seconds N] -- CMD [ARGS...]

Runs CMD with each VAR set to a fresh token of credential NAME; CMD's exit status is passed
through. The tokens go only into CMD's environment, never onto a command line.
  e.g. credagent exec --env PGPASSWORD=db -- psql -h db.example.com -U app`;

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const FORWARDED_SIGNALS = ["SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT"] as const;
const SIGNAL_NUMBERS: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGKILL: 9, SIGTERM: 15 };

export const exec: Command = {
  name: "exec",
  usage,
  async run(argv, ctx) {
    try {
      const split = argv.indexOf("--");
      const own = split === -1 ? argv : argv.slice(0, split);
      const { values, positionals } = parseCommandArgs(own, { env: { type: "string", multiple: true } });
      if (values.help) return ctx.out(`${usage}\n`), EXIT.ok;
      if (positionals.length > 0 || split === -1) throw new UsageError("put -- before the command to run");
      const command = argv.slice(split + 1);
      if (command.length === 0) throw new UsageError("missing the command to run after --");
      const mappings = (values.env ?? []).map(parseMapping);
      if (mappings.length === 0) throw new UsageError("give at least one --env VAR=NAME");

      const client = new AgentClient(ctx.socketPath());
      const tokens = await Promise.all(mappings.map(([, name]) => client.token(name)));
      const env: Record<string, string | undefined> = { ...ctx.env };
      mappings.forEach(([variable], i) => {
        env[variable] = tokens[i]!.token;
      });
      return await runChild(command, env);
    } catch (err) {
      return reportError(ctx, "exec", err, usage);
    }
  },
};

function parseMapping(text: string): [string, string] {
  const eq = text.indexOf("=");
  const variable = text.slice(0, eq);
  const name = text.slice(eq + 1);
  if (eq < 1 || !ENV_NAME.test(variable) || !CREDENTIAL_NAME.test(name)) {
    throw new UsageError(`--env takes VAR=NAME (an environment variable and a credential name), not '${text}'`);
  }
  return [variable, name];
}

async function runChild(command: string[], env: Record<string, string | undefined>): Promise<number> {
  let child;
  try {
    child = Bun.spawn(command, { stdio: ["inherit", "inherit", "inherit"], env });
  } catch (err) {
    throw new UsageError(`cannot run '${command[0]}': ${(err as Error).message}`);
  }
  // Like env(1) or sudo: signals for us go to the child, and we exit when it does.
  const forward = (signal: NodeJS.Signals) => child.kill(signal);
  for (const s of FORWARDED_SIGNALS) process.on(s, forward);
  const code = await child.exited;
  for (const s of FORWARDED_SIGNALS) process.off(s, forward);
  if (child.signalCode) return 128 + (SIGNAL_NUMBERS[child.signalCode] ?? 0);
  return code;
}
