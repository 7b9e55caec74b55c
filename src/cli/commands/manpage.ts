import { EXIT } from "../../exit-codes.ts";
import { defineCommand, type CommandEntry } from "../command.ts";
import { UsageError } from "../io.ts";

const usage = `usage: credagent manpage 1|5

Prints a man page in roff: 1 for credagent(1) (every command, from the same usage texts as
--help), 5 for credagent.toml(5) (every config key, from the schema the agent checks). install.sh
installs both: man credagent.`;

/** The manpage command for the CLI's command table (handed in: it does not import cli/run.ts). */
export const manpageFor = (commands: CommandEntry[]) =>
  defineCommand("manpage", usage, {}, async ({ positionals }, ctx) => {
    if (positionals.length !== 1 || !["1", "5"].includes(positionals[0]!)) throw new UsageError("expected the section: 1 or 5");
    const { manPage1, manPage5 } = await import("../docs/man.ts");
    if (positionals[0] === "5") {
      ctx.out(manPage5());
      return EXIT.ok;
    }
    ctx.out(manPage1(await Promise.all(commands.map(async (entry) => ({ entry, command: await entry.load() })))));
    return EXIT.ok;
  });
