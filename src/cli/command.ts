import type { ParseArgsConfig } from "node:util";
import { CREDENTIAL_NAME } from "../wire/types.ts";
import { EXIT } from "../exit-codes.ts";
import { reportError, UsageError, type CliContext } from "./io.ts";

export interface Command {
  name: string;
  usage: string;
  /** Its options, for completions and the man page (the same table its parser uses). */
  options: Options;
  run(argv: string[], ctx: CliContext): Promise<number>;
}

export type Options = NonNullable<ParseArgsConfig["options"]>;

type Parsed<O extends Options> = ReturnType<
  typeof import("node:util").parseArgs<{ options: O & { help: { type: "boolean"; short: "h" } }; strict: true; allowPositionals: true }>
>;

/**
 * node:util parseArgs, strict, with its errors turned into usage errors. Arguments with no option
 * among them (`credagent get db`) are all positionals, as parseArgs would find: node:util is
 * loaded only when there is an option to parse, for it costs every start ~170 page faults.
 */
export function parseCommandArgs<O extends Options>(argv: string[], options: O): Parsed<O> {
  if (!argv.some((arg) => arg.startsWith("-"))) return { values: {}, positionals: [...argv] } as unknown as Parsed<O>;
  const { parseArgs } = require("node:util") as typeof import("node:util");
  try {
    return parseArgs({
      args: argv,
      options: { ...options, help: { type: "boolean", short: "h" } },
      strict: true,
      allowPositionals: true,
    }) as Parsed<O>;
  } catch (err) {
    throw new UsageError((err as Error).message.split("\n")[0] ?? "invalid arguments");
  }
}

/**
 * A command in the usual shape: strict options (with -h/--help printing the usage), and any error
 * reported as `credagent NAME: …` with its exit code (usage errors with the usage).
 */
export function defineCommand<O extends Options>(
  name: string,
  usage: string,
  options: O,
  run: (args: Parsed<O>, ctx: CliContext) => Promise<number> | number,
): Command {
  return {
    name,
    usage,
    options,
    async run(argv, ctx) {
      try {
        const args = parseCommandArgs(argv, options);
        if ((args.values as { help?: boolean }).help) {
          ctx.out(`${usage}\n`);
          return EXIT.ok;
        }
        return await run(args, ctx);
      } catch (err) {
        return reportError(ctx, name, err, usage);
      }
    },
  };
}

export function credentialName(positionals: string[]): string {
  if (positionals.length !== 1)
    throw new UsageError(positionals.length === 0 ? "missing the credential NAME" : "expected one credential NAME");
  const name = positionals[0]!;
  if (!CREDENTIAL_NAME.test(name)) throw new UsageError(`'${name}' is not a credential name (1 to 128 letters, digits, '.', '_' or '-')`);
  return name;
}

export function noPositionals(positionals: string[]): void {
  if (positionals.length > 0) throw new UsageError(`unexpected argument '${positionals[0]}'`);
}

/** A command of the CLI's table: its module is loaded only when it runs. */
export interface CommandEntry {
  name: string;
  summary: string;
  /** Its positional NAME is a credential's (completions offer the agent's credentials there). */
  credentialArg?: boolean;
  load: () => Promise<Command>;
}
