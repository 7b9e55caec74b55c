import { AgentClient } from "../../client/client.ts";
import { EXIT } from "../../exit-codes.ts";
import { Secret } from "../../secret.ts";
import type { Command } from "../command.ts";
import { noPositionals, parseCommandArgs } from "../command.ts";
import { reportError, UsageError, type CliContext } from "../io.ts";
import { promptHidden, readStdinValue } from "../prompt.ts";

const lockUsage = `usage: credagent lock [--stdin]

Locks the agent (as ssh-add -x): it drops every token and secret from memory and refuses
credential requests with 423 'locked' until 'credagent unlock' with the same passphrase.
The passphrase is asked twice without echo, or read from standard input with --stdin.`;

const unlockUsage = `usage: credagent unlock [--stdin]

Unlocks the agent (as ssh-add -X) with the passphrase given to 'credagent lock'; cached tokens are
reloaded from the keyring. Failed attempts slow down further ones (0.1 s each, up to 10 s).`;

async function readPassphrase(ctx: CliContext, fromStdin: boolean, confirm: boolean): Promise<Secret> {
  const value = fromStdin ? await readStdinValue() : await promptHidden("Agent lock passphrase: ", ctx.err);
  if (!fromStdin && confirm && (await promptHidden("Again, to confirm: ", ctx.err)) !== value) {
    throw new UsageError("the two entries differ; the agent was not locked");
  }
  if (value === "") throw new UsageError("the passphrase is empty");
  return new Secret(value);
}

function lockCommand(name: "lock" | "unlock", usage: string): Command {
  return {
    name,
    usage,
    async run(argv, ctx) {
      try {
        const { values, positionals } = parseCommandArgs(argv, { stdin: { type: "boolean" } });
        if (values.help) return ctx.out(`${usage}\n`), EXIT.ok;
        noPositionals(positionals);
        const client = new AgentClient(ctx.socketPath());
        await client.health();
        const passphrase = await readPassphrase(ctx, Boolean(values.stdin), name === "lock");
        if (name === "lock") await client.lock(passphrase);
        else await client.unlock(passphrase);
        ctx.err(`credagent: agent ${name === "lock" ? "locked" : "unlocked"}\n`);
        return EXIT.ok;
      } catch (err) {
        return reportError(ctx, name, err, usage);
      }
    },
  };
}

export const lock = lockCommand("lock", lockUsage);
export const unlock = lockCommand("unlock", unlockUsage);
