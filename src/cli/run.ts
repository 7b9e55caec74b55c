import { EXIT } from "../exit-codes.ts";
import { currentPathEnv } from "../paths.ts";
import { VERSION } from "../version.ts";
import type { Command } from "./command.ts";
import { approve } from "./commands/approve.ts";
import { env } from "./commands/env.ts";
import { exec } from "./commands/exec.ts";
import { get } from "./commands/get.ts";
import { list } from "./commands/list.ts";
import { log } from "./commands/log.ts";
import { login } from "./commands/login.ts";
import { lock, unlock } from "./commands/lock.ts";
import { refresh } from "./commands/refresh.ts";
import { secret } from "./commands/secret.ts";
import { start } from "./commands/start.ts";
import { status } from "./commands/status.ts";
import { stop } from "./commands/stop.ts";
import { processContext, type CliContext } from "./io.ts";

const COMMANDS: Command[] = [start, stop, status, get, list, refresh, exec, login, secret, lock, unlock, approve, env, log];
const ALIASES: Record<string, string> = { "-k": "stop" };

function help(): string {
  const rows = COMMANDS.map((c) => `  ${c.name.padEnd(9)} ${c.summary}`).join("\n");
  return `credagent ${VERSION}: a local credential broker

usage: credagent COMMAND [ARGS]

${rows}
  agent     run the agent in the foreground (systemd, debugging)
  version   print the version
  help      this text; 'credagent COMMAND --help' for a command

The CLI finds the agent through $CRED_SOCK, else $XDG_RUNTIME_DIR/cred.sock.
Exit status: 0 ok, 1 the request failed, 2 usage error, 3 no agent running.
`;
}

export async function runCli(argv: string[], ctx: CliContext = processContext(currentPathEnv())): Promise<number> {
  const [first, ...rest] = argv;
  if (first === undefined || first === "help" || first === "--help" || first === "-h") {
    const topic = first === "help" ? COMMANDS.find((c) => c.name === rest[0]) : undefined;
    ctx.out(topic ? `${topic.usage}\n` : help());
    return EXIT.ok;
  }
  if (first === "version" || first === "--version" || first === "-V") {
    ctx.out(`credagent ${VERSION}\n`);
    return EXIT.ok;
  }
  const name = ALIASES[first] ?? first;
  const command = COMMANDS.find((c) => c.name === name);
  if (!command) {
    ctx.err(`credagent: unknown command '${first}'; 'credagent help' lists the commands\n`);
    return EXIT.usage;
  }
  return command.run(rest, ctx);
}
