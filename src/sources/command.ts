import { CredagentError, describe } from "../errors.ts";
import type { FetchContext, Token, TokenSource } from "./source.ts";
import { parseTokenOutput } from "./token-output.ts";

export interface CommandSourceOptions {
  /** argv of the command; run directly, never through a shell. */
  command: string[];
  /** Lifetime assumed when the output says nothing about expiry. */
  defaultLifetimeMs: number;
  env: Record<string, string | undefined>;
  cwd?: string;
}

const MAX_OUTPUT_BYTES = 1 << 20;
const MAX_STDERR_IN_MESSAGE = 300;

/** `source = "command"`: runs a program that prints a token (az, gcloud, vault, a script). */
export function commandSource(options: CommandSourceOptions): TokenSource {
  const program = options.command[0] ?? "";
  return {
    kind: "command",
    async fetchToken(ctx: FetchContext): Promise<Token> {
      let child;
      try {
        child = Bun.spawn(options.command, {
          stdin: "ignore",
          stdout: "pipe",
          stderr: "pipe",
          env: options.env,
          cwd: options.cwd,
          signal: ctx.signal,
        });
      } catch (err) {
        throw new CredagentError(
          "source_failed",
          `could not run '${program}': ${describe(err)}; check the command in the config and your PATH`,
          { cause: err },
        );
      }
      const [stdout, stderr, code] = await Promise.all([
        readCapped(child.stdout),
        readCapped(child.stderr),
        child.exited,
      ]);
      if (ctx.signal.aborted) throw ctx.signal.reason;
      if (stdout === null) {
        throw new CredagentError("source_failed", `'${program}' printed more than ${MAX_OUTPUT_BYTES} bytes`);
      }
      if (code !== 0) {
        // stderr is the tool's own explanation; stdout is never quoted since it may hold a token.
        const why = (stderr ?? "").trim().split("\n").slice(-3).join(" ").slice(0, MAX_STDERR_IN_MESSAGE);
        throw new CredagentError(
          "source_failed",
          `'${program}' exited with status ${code}${why ? `: ${why}` : ""}`,
        );
      }
      try {
        return parseTokenOutput(stdout, ctx.now, options.defaultLifetimeMs);
      } catch (err) {
        throw new CredagentError("source_failed", `'${program}': ${describe(err)}`, { cause: err });
      }
    },
  };
}

async function readCapped(stream: ReadableStream<Uint8Array>): Promise<string | null> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  let overflow = false;
  for await (const chunk of stream) {
    size += chunk.byteLength;
    if (size > MAX_OUTPUT_BYTES) overflow = true;
    else chunks.push(chunk);
  }
  return overflow ? null : Buffer.concat(chunks).toString("utf8");
}
