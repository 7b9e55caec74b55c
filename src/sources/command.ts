import { CredagentError, describe } from "../errors.ts";
import { CannotHealError, type FetchContext, type Token, type TokenSource } from "./source.ts";
import { runInOwnGroup } from "./process-group.ts";
import { parseTokenOutput } from "./token-output.ts";

export interface CommandSourceOptions {
  /** argv of the command; run directly, never through a shell. */
  command: string[];
  /** Lifetime assumed when the output says nothing about expiry. */
  defaultLifetimeMs: number;
  env: Record<string, string | undefined>;
  cwd?: string;
  /** Between SIGTERM and SIGKILL to the command's process group; tests shorten it. */
  killGraceMs?: number;
}

const MAX_OUTPUT_BYTES = 1 << 20;
const MAX_STDERR_IN_MESSAGE = 300;
const KILL_GRACE_MS = 2_000;
/** Why a program cannot start that stays true until someone installs or fixes it. */
const CANNOT_START = new Set(["ENOENT", "ENOTDIR", "EACCES", "ENOEXEC"]);

/** `source = "command"`: runs a program that prints a token (az, gcloud, vault, a script). */
export function commandSource(options: CommandSourceOptions): TokenSource {
  const program = options.command[0] ?? "";
  return {
    kind: "command",
    async fetchToken(ctx: FetchContext): Promise<Token> {
      if (ctx.signal.aborted) throw ctx.signal.reason;
      let result;
      try {
        result = await runInOwnGroup({
          argv: options.command,
          env: options.env,
          cwd: options.cwd,
          signal: ctx.signal,
          maxOutputBytes: MAX_OUTPUT_BYTES,
          graceMs: options.killGraceMs ?? KILL_GRACE_MS,
        });
      } catch (err) {
        const code = (err as { code?: unknown })?.code;
        const Failure = typeof code === "string" && CANNOT_START.has(code) ? CannotHealError : CredagentError;
        throw new Failure("source_failed", `could not run '${program}': ${describe(err)}; check the command in the config and your PATH`, {
          cause: err,
        });
      }
      const { stdout, stderr, exitCode: code, signalCode } = result;
      try {
        if (ctx.signal.aborted) throw ctx.signal.reason;
        if (stdout === null) {
          throw new CredagentError("source_failed", `'${program}' printed more than ${MAX_OUTPUT_BYTES} bytes`);
        }
        if (code !== 0) {
          // stderr is the tool's own explanation; stdout is never quoted since it may hold a token.
          const why = (stderr ?? "").trim().split("\n").slice(-3).join(" ").slice(0, MAX_STDERR_IN_MESSAGE);
          const how = code === null ? `was killed by ${signalCode ?? "a signal"}` : `exited with status ${code}`;
          throw new CredagentError("source_failed", `'${program}' ${how}${why ? `: ${why}` : ""}`);
        }
        try {
          return parseTokenOutput(stdout, ctx.now, options.defaultLifetimeMs);
        } catch (err) {
          throw new CredagentError("source_failed", `'${program}': ${describe(err)}`, { cause: err });
        }
      } finally {
        // The token is in the Secret now (or nowhere): the output it came in is overwritten.
        stdout?.fill(0);
      }
    },
  };
}
