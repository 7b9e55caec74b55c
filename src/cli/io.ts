import { CredagentError, describe } from "../errors.ts";
import { EXIT } from "../exit-codes.ts";
import type { AgentApi } from "../client/client.ts";
import { clientSocketPath, type PathEnv } from "../paths.ts";
import { printableLines } from "../printable.ts";

// Output goes through Bun.write, in order, on one chain that main.ts waits for before the process
// exits (an exit could otherwise cut a write to a pipe short). Not node:fs writeSync: loading
// node:fs alone costs the CLI about 150 page faults at every start (see BENCHMARKS.md).
let pending: Promise<unknown> = Promise.resolve();

function write(target: "stdout" | "stderr", text: string): void {
  pending = pending
    .then(() => Bun.write(target === "stdout" ? Bun.stdout : Bun.stderr, text))
    // A reader that went away (EPIPE: `credagent get x | head -c1`) is not the CLI's failure.
    .catch(() => {});
}

/** Resolves once everything written so far has reached the descriptor. */
export function flushOutput(): Promise<void> {
  return pending.then(() => {});
}

export interface CliContext {
  pathEnv: PathEnv;
  env: Record<string, string | undefined>;
  out(text: string): void;
  err(text: string): void;
  socketPath(): string;
  /** The agent's client: injected by tests (cli/agent.ts agentOf makes the real one otherwise). */
  client?: (timeoutMs?: number) => AgentApi;
}

export function processContext(pathEnv: PathEnv): CliContext {
  return {
    pathEnv,
    env: pathEnv.env,
    out: (text) => write("stdout", text),
    err: (text) => write("stderr", text),
    socketPath: () => clientSocketPath(pathEnv),
  };
}

export class UsageError extends Error {}

/** Prints an error the way every command does and gives its exit code. */
export function reportError(ctx: CliContext, command: string, err: unknown, usage?: string): number {
  if (err instanceof UsageError || (err instanceof CredagentError && err.code === "usage")) {
    ctx.err(`credagent ${command}: ${printableLines(err.message)}\n${usage ? `${usage}\n` : ""}`);
    return EXIT.usage;
  }
  // The agent's messages name programs and quote sources' output: shown printable.
  ctx.err(`credagent ${command}: ${printableLines(describe(err))}\n`);
  if (err instanceof CredagentError && err.code === "agent_not_running") return EXIT.noAgent;
  return EXIT.failed;
}
