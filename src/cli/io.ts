import { writeSync } from "node:fs";
import { CredagentError, describe } from "../errors.ts";
import { EXIT } from "../exit-codes.ts";
import { clientSocketPath, type PathEnv } from "../paths.ts";

// Synchronous writes: the CLI exits right after printing, and an async write to a pipe could be
// cut off by that exit.
function write(fd: number, text: string): void {
  try {
    writeSync(fd, text);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EPIPE") throw err;
  }
}

export interface CliContext {
  pathEnv: PathEnv;
  env: Record<string, string | undefined>;
  out(text: string): void;
  err(text: string): void;
  socketPath(): string;
}

export function processContext(pathEnv: PathEnv): CliContext {
  return {
    pathEnv,
    env: pathEnv.env,
    out: (text) => write(1, text),
    err: (text) => write(2, text),
    socketPath: () => clientSocketPath(pathEnv),
  };
}

export class UsageError extends Error {}

/** Prints an error the way every command does and gives its exit code. */
export function reportError(ctx: CliContext, command: string, err: unknown, usage?: string): number {
  if (err instanceof UsageError || (err instanceof CredagentError && err.code === "usage")) {
    ctx.err(`credagent ${command}: ${err.message}\n${usage ? `${usage}\n` : ""}`);
    return EXIT.usage;
  }
  ctx.err(`credagent ${command}: ${describe(err)}\n`);
  if (err instanceof CredagentError && err.code === "agent_not_running") return EXIT.noAgent;
  return EXIT.failed;
}
