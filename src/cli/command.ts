import { parseArgs, type ParseArgsConfig } from "node:util";
import { CREDENTIAL_NAME } from "../wire/types.ts";
import { EXIT } from "../exit-codes.ts";
import { reportError, UsageError, type CliContext } from "./io.ts";

export interface Command {
  name: string;
  usage: string;
  run(argv: string[], ctx: CliContext): Promise<number>;
}

type Options = NonNullable<ParseArgsConfig["options"]>;

/** node:util parseArgs, strict, with its errors turned into usage errors. */
export function parseCommandArgs<O extends Options>(argv: string[], options: O) {
  try {
    return parseArgs({ args: argv, options: { ...options, help: { type: "boolean", short: "h" } }, strict: true, allowPositionals: true });
  } catch (err) {
    throw new UsageError((err as Error).message.split("\n")[0] ?? "invalid arguments");
  }
}

type Parsed<O extends Options> = ReturnType<typeof parseCommandArgs<O>>;

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
  if (positionals.length !== 1) throw new UsageError(positionals.length === 0 ? "missing the credential NAME" : "expected one credential NAME");
  const name = positionals[0]!;
  if (!CREDENTIAL_NAME.test(name)) throw new UsageError(`'${name}' is not a credential name (1 to 128 letters, digits, '.', '_' or '-')`);
  return name;
}

export function noPositionals(positionals: string[]): void {
  if (positionals.length > 0) throw new UsageError(`unexpected argument '${positionals[0]}'`);
}
