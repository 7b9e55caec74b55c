import { constants } from "node:os";
import { parseDuration } from "../../duration.ts";
import { EXIT } from "../../exit-codes.ts";
import { CredagentError } from "../../errors.ts";
import { CREDENTIAL_NAME, type TokenResponse } from "../../wire/types.ts";
import { PARTS, partOf, type Part } from "../credential-parts.ts";
import type { Command } from "../command.ts";
import { sdkEnvironment } from "../sdk-env.ts";
import { parseCommandArgs } from "../command.ts";
import type { CliContext } from "../io.ts";
import { reportError, UsageError } from "../io.ts";
import { agentOf } from "../agent.ts";

const synopsis = "credagent exec [--env VAR=NAME]... [--env-file FILE]... [--sdk] [--min-valid DUR] -- CMD [ARGS...]";
const usage = `usage: ${synopsis}

Runs CMD with each VAR set to a fresh token of credential NAME; CMD's exit status is passed
through (128+N when a signal N ends it; 127 when CMD is not found, 126 when it cannot run).
The tokens go only into CMD's environment, never onto a command line.

  --env VAR=NAME    set VAR to the token (or password) of credential NAME (repeatable)
  --env VAR=NAME:PART  one part of it: username, password, token, or for an AWS key
                    access_key_id, secret_access_key, session_token
  --env VAR=@CONN   the connection string of the config's [connections.CONN]
  --env-file FILE   the variables of a dotenv file (quotes, export and comments as the dotenv
                    package reads them), where a value may be a reference resolved through the
                    agent: cred://NAME (token or password), cred://NAME/PART, conn://NAME (a
                    connection string); other values pass as they are; \cred://... is the literal
                    text. Repeatable: later files, then --env, override earlier ones. A reference
                    that cannot be resolved stops everything: nothing is run
  --sdk             set the variables of the cloud SDKs' loopback endpoints (credagent env --sdk)
  --min-valid DUR   tokens valid for at least this long (e.g. 10m), refreshed first if needed
  e.g. credagent exec --env PGPASSWORD=db -- psql -h db.example.com -U app`;

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const FORWARDED_SIGNALS = ["SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT"] as const;
// The shell's exit statuses (POSIX 2.8.2): not found, found but not executable.
const NOT_FOUND = 127;
const NOT_EXECUTABLE = 126;

const execOptions = {
  env: { type: "string", multiple: true },
  "env-file": { type: "string", multiple: true },
  "min-valid": { type: "string" },
  sdk: { type: "boolean" },
} as const;

export const exec: Command = {
  name: "exec",
  usage,
  options: execOptions,
  async run(argv, ctx) {
    try {
      const split = argv.indexOf("--");
      const own = split === -1 ? argv : argv.slice(0, split);
      // Without "--", the command's own options would be taken for ours: say what is missing first.
      if (split === -1 && !own.includes("--help") && own[0] !== "-h") {
        throw new UsageError(`missing -- before the command to run: ${synopsis}`);
      }
      const { values, positionals } = parseCommandArgs(own, execOptions);
      if (values.help) return (ctx.out(`${usage}\n`), EXIT.ok);
      if (positionals.length > 0) throw new UsageError(`put -- before the command to run: ${synopsis}`);
      const command = argv.slice(split + 1);
      if (command.length === 0) throw new UsageError("missing the command to run after --");
      const mappings = (values.env ?? []).map(parseMapping);
      // The dotenv parser is loaded only when a file is given: exec runs on every such program start.
      const envFileModule = values["env-file"] ? await import("../env-file.ts") : undefined;
      const envFiles = (values["env-file"] ?? []).map((path) => ({ path, entries: envFileModule!.readEnvFile(path) }));
      if (mappings.length === 0 && envFiles.length === 0 && !values.sdk)
        throw new UsageError("give at least one --env VAR=NAME, --env-file FILE, or --sdk");
      const minValidText = values["min-valid"];
      const minValid = minValidText === undefined ? undefined : parseDuration(minValidText);
      if (minValidText !== undefined && minValid === undefined) {
        throw new UsageError("--min-valid takes a duration such as 90s or 10m");
      }
      const minValidSeconds = minValid === undefined ? undefined : Math.ceil(minValid / 1000);

      const client = agentOf(ctx);
      // One request per credential, however many of its parts are asked for.
      const names = [...new Set(mappings.filter(([, , part]) => part !== "@").map(([, name]) => name))];
      const answers = new Map(await Promise.all(names.map(async (name) => [name, await client.token(name, minValidSeconds)] as const)));
      const strings = new Map(
        await Promise.all(
          mappings
            .filter(([, , part]) => part === "@")
            .map(async ([, name]) => [name, (await client.connection(name, minValidSeconds)).connection_string] as const),
        ),
      );
      const fromFiles = await Promise.all(
        envFiles.map(({ path, entries }) => envFileModule!.resolveEnvEntries(entries, client, minValidSeconds, path)),
      );
      const env: Record<string, string | undefined> = { ...ctx.env };
      for (const [variable, value] of fromFiles.flat()) env[variable] = value;
      if (values.sdk) for (const [variable, value] of await sdkEnvironment(ctx)) env[variable] = value;
      for (const [variable, name, part] of mappings) env[variable] = part === "@" ? strings.get(name)! : partOf(answers.get(name)!, part);
      return await runChild(command, env, ctx);
    } catch (err) {
      return reportError(ctx, "exec", err, usage);
    }
  },
};

function parseMapping(text: string): [string, string, Part | "@" | undefined] {
  const eq = text.indexOf("=");
  const variable = text.slice(0, eq);
  if (text[eq + 1] === "@") {
    const connection = text.slice(eq + 2);
    if (eq < 1 || !ENV_NAME.test(variable) || !CREDENTIAL_NAME.test(connection)) {
      throw new UsageError(`--env takes VAR=@CONN (an environment variable and a connection name), not '${text}'`);
    }
    return [variable, connection, "@"];
  }
  const [name = "", part, ...more] = text.slice(eq + 1).split(":");
  if (eq < 1 || !ENV_NAME.test(variable) || !CREDENTIAL_NAME.test(name) || more.length > 0) {
    throw new UsageError(`--env takes VAR=NAME or VAR=NAME:PART (an environment variable, a credential name, a part), not '${text}'`);
  }
  if (part !== undefined && !(PARTS as readonly string[]).includes(part)) {
    throw new UsageError(`'${part}' is not a part of a credential: the parts are ${PARTS.join(", ")}`);
  }
  return [variable, name, part as Part | undefined];
}

async function runChild(command: string[], env: Record<string, string | undefined>, ctx: CliContext): Promise<number> {
  const program = command[0]!;
  let child;
  try {
    child = Bun.spawn(command, { stdio: ["inherit", "inherit", "inherit"], env });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT") {
      // As bash words it: a bare name was looked up in PATH, a path was not there.
      ctx.err(`credagent exec: ${program}: ${program.includes("/") ? "No such file or directory" : "command not found"}\n`);
      return NOT_FOUND;
    }
    if (code === "EACCES" || code === "ENOEXEC" || code === "EISDIR") {
      ctx.err(`credagent exec: ${program}: ${code === "ENOEXEC" ? "Exec format error" : "Permission denied"}\n`);
      return NOT_EXECUTABLE;
    }
    throw new UsageError(`cannot run '${program}': ${(err as Error).message}`);
  }
  // Like env(1) or sudo: signals for us go to the child, and we exit when it does.
  const forward = (signal: NodeJS.Signals) => child.kill(signal);
  for (const s of FORWARDED_SIGNALS) process.on(s, forward);
  const code = await child.exited;
  for (const s of FORWARDED_SIGNALS) process.off(s, forward);
  if (child.signalCode) return 128 + (constants.signals[child.signalCode as keyof typeof constants.signals] ?? 0);
  return code;
}
