import { parseArgs } from "node:util";
import { parseDuration } from "../duration.ts";
import { describe } from "../errors.ts";
import { EXIT } from "../exit-codes.ts";
import { KEYRING_USAGE, parseKeyringChoice, type KeyringChoice } from "../wire/types.ts";
import { parseLogLevel, type LogLevel } from "../log/log.ts";

export const AGENT_USAGE = `usage: credagent agent [-a SOCKET] [--config FILE] [--keyring auto|os|file] [-t LIFETIME] [-d] [--log-level LEVEL]

Runs the agent in the foreground (for systemd or debugging). 'credagent start' runs it in the background.

  -a, --socket SOCKET   listen here (default: $XDG_RUNTIME_DIR/cred.sock)
  --config FILE         config file (default: $CREDAGENT_CONFIG, else $XDG_CONFIG_HOME/credagent/config.toml)
  --keyring KIND        where secrets and cached tokens live: auto (default), os or file
  -t, --lifetime DUR    exit cleanly after this long, e.g. 8h
  -d, --debug           log to stderr (otherwise to $XDG_STATE_HOME/credagent/agent.log)
  --log-level LEVEL     debug, info (default), warn or error

Signals: SIGTERM/SIGINT stop after answering requests in flight; SIGHUP reloads the config.`;

const OPTIONS = {
  socket: { type: "string", short: "a" },
  config: { type: "string" },
  keyring: { type: "string" },
  lifetime: { type: "string", short: "t" },
  debug: { type: "boolean", short: "d" },
  "log-level": { type: "string" },
  help: { type: "boolean", short: "h" },
  // Internal, for `credagent start`: a pipe to write "ready" to once the socket listens, and the
  // log file (rotated by the agent; start points the agent's stdout and stderr at it too).
  "ready-fd": { type: "string" },
  "log-file": { type: "string" },
  // Internal, for `credagent start --service` (the autostart entry, the Windows Run value): this
  // agent is the session service's, which `credagent service uninstall` stops.
  service: { type: "boolean" },
  // Internal, for tests: shorter deadlines for a request's headers and body, and for idle
  // connections (defaults 10s, 10s, 60s).
  "request-deadline": { type: "string" },
  "idle-timeout": { type: "string" },
} as const;

export type AgentArgs = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; strict: true }>>["values"];

/** The agent's flags, parsed once into what they mean. */
export interface AgentOptions {
  socket: string | undefined;
  config: string | undefined;
  keyring: KeyringChoice | undefined;
  lifetimeMs: number | undefined;
  /** -t as given, for `credagent restart` to start the next agent with the same. */
  lifetime: string | undefined;
  /** Started by `credagent start --service`: the session service's agent. */
  service: boolean;
  debug: boolean;
  level: LogLevel;
  readyFd: string | undefined;
  logFile: string | undefined;
  /** Deadlines of a request's phases the client controls: headers and body, and an idle keep-alive connection. */
  requestDeadlineMs: number;
  idleTimeoutMs: number;
}

/** The agent's flags, checked; or the exit code when it should not run (help, usage error). */
export function parseAgentOptions(argv: string[]): AgentOptions | { exit: number } {
  let args: AgentArgs;
  try {
    args = parseArgs({ args: argv, options: OPTIONS, strict: true, allowPositionals: false }).values;
  } catch (err) {
    process.stderr.write(`credagent agent: ${describe(err)}\n${AGENT_USAGE}\n`);
    return { exit: EXIT.usage };
  }
  if (args.help) {
    process.stdout.write(`${AGENT_USAGE}\n`);
    return { exit: EXIT.ok };
  }
  const level = args["log-level"] === undefined ? (args.debug ? "debug" : "info") : parseLogLevel(args["log-level"]);
  const lifetimeMs = args.lifetime === undefined ? undefined : parseDuration(args.lifetime);
  const keyring = args.keyring === undefined ? undefined : parseKeyringChoice(args.keyring);
  const requestDeadlineMs = args["request-deadline"] === undefined ? 10_000 : parseDuration(args["request-deadline"]);
  const idleTimeoutMs = args["idle-timeout"] === undefined ? 60_000 : parseDuration(args["idle-timeout"]);
  const usageError =
    level === undefined
      ? "--log-level takes debug, info, warn or error"
      : args.lifetime !== undefined && !lifetimeMs
        ? "-t takes a duration such as 90s, 30m or 8h"
        : keyring === null
          ? KEYRING_USAGE
          : !requestDeadlineMs || !idleTimeoutMs
            ? "--request-deadline and --idle-timeout take a duration such as 2s"
            : undefined;
  if (usageError || level === undefined || keyring === null || !requestDeadlineMs || !idleTimeoutMs) {
    process.stderr.write(`credagent agent: ${usageError}\n`);
    return { exit: EXIT.usage };
  }
  return {
    socket: args.socket,
    config: args.config,
    keyring,
    lifetimeMs,
    lifetime: args.lifetime,
    service: args.service ?? false,
    debug: args.debug ?? false,
    level,
    readyFd: args["ready-fd"],
    logFile: args["log-file"],
    requestDeadlineMs,
    idleTimeoutMs,
  };
}

/** The `credagent start` options this agent runs with, for a restart with the same ones. */
export function startOptions(socketPath: string, args: Pick<AgentOptions, "config" | "keyring" | "lifetime">): string[] {
  const out = ["-a", socketPath];
  if (args.config !== undefined) out.push("--config", args.config);
  if (args.keyring !== undefined) out.push("--keyring", args.keyring);
  if (args.lifetime !== undefined) out.push("-t", args.lifetime);
  return out;
}
