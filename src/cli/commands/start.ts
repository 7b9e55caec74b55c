import { AgentClient } from "../../client/client.ts";
import { startAgent } from "../../client/start.ts";
import { parseDuration } from "../../duration.ts";
import { EXIT } from "../../exit-codes.ts";
import { resolve } from "node:path";
import { CredagentError } from "../../errors.ts";
import { configPath, stateDir } from "../../paths.ts";
import { defineCommand, noPositionals } from "../command.ts";
import { UsageError } from "../io.ts";
import { exportCode } from "../output/shell.ts";
import { offerStoreUnlock } from "./lock.ts";
import { shellDialect, shellOptions } from "./shell-flags.ts";
import { KEYRING_USAGE, parseKeyringChoice } from "../../wire/types.ts";

const usage = `usage: credagent start [-s|-c|--fish|--powershell] [-a SOCKET] [-t LIFETIME] [--config FILE] [--keyring KIND] [--service]

Starts the agent in the background unless one already answers at the socket, and prints the
shell code that points your shell at it:  eval "$(credagent start)"

  -s, -c, --fish, --powershell   sh, csh, fish or PowerShell code (default: from $SHELL)
  -a, --socket SOCKET            socket path (default: $CRED_SOCK, else $XDG_RUNTIME_DIR/cred.sock)
  -t, --lifetime DUR             the agent exits after this long, e.g. 8h
  --config FILE                  config file for the agent; when an agent already runs with
                                 another file, start says so and exits 1
  --keyring auto|os|file         where secrets and cached tokens live (default: the config's, else auto)
  --service                      the agent started is the session service's ('credagent service
                                 install' puts this in the autostart entry and the Windows Run
                                 value): 'credagent service uninstall' stops it (and asks before
                                 stopping an agent started otherwise)

When the agent's encrypted file store waits for its passphrase and a credential needs it, start
asks for it on a terminal (without echo, on stderr; empty skips) as 'credagent unlock' does. When
the agent that answers runs an older program file (credagent was upgraded since it started), start
says so: 'credagent restart' restarts it.`;

export const start = defineCommand(
  "start",
  usage,
  {
    ...shellOptions,
    socket: { type: "string", short: "a" },
    lifetime: { type: "string", short: "t" },
    config: { type: "string" },
    keyring: { type: "string" },
    service: { type: "boolean" },
  },
  async ({ values, positionals }, ctx) => {
    noPositionals(positionals);
    if (values.lifetime !== undefined && !parseDuration(values.lifetime)) {
      throw new UsageError("-t takes a duration such as 90s, 30m or 8h");
    }
    if (values.keyring !== undefined && parseKeyringChoice(values.keyring) === null) throw new UsageError(KEYRING_USAGE);
    const dialect = shellDialect(values, ctx.env.SHELL);
    // Absolute, so that the agent (and the check below) do not depend on this shell's directory.
    const config = values.config === undefined ? undefined : resolve(values.config);
    const { health, started } = await startAgent({
      socketPath: values.socket ?? ctx.socketPath(),
      configPath: config,
      lifetime: values.lifetime,
      keyring: values.keyring,
      service: values.service,
      logDir: stateDir(ctx.pathEnv),
      env: ctx.env,
    });
    if (!started) refuseOtherConfig(health, configPath(ctx.pathEnv, config));
    if (!started && health.binary_replaced)
      ctx.err(
        `credagent: the running agent (pid ${health.pid}) runs the credagent program it was started with, which has since been replaced (upgraded): 'credagent restart' restarts it on the new one\n`,
      );
    // The prompt goes to stderr and the shell code to stdout, so `eval "$(credagent start)"` still works.
    const socketPath = values.socket ?? ctx.socketPath();
    await offerStoreUnlock(new AgentClient(socketPath), health, ctx);
    ctx.out(
      exportCode(
        dialect,
        [
          ["CRED_SOCK", health.socket],
          ["CRED_AGENT_PID", String(health.pid)],
        ],
        `Agent pid ${health.pid}`,
      ),
    );
    return EXIT.ok;
  },
);

/** An agent already answers: one that reads another config than asked for must not pass silently. */
function refuseOtherConfig(
  health: { pid: number; socket: string; config?: { path: string } },
  wanted: { path: string; explicit: boolean },
): void {
  const running = health.config?.path;
  if (!wanted.explicit || running === undefined || running === resolve(wanted.path)) return;
  throw new CredagentError(
    "agent_running",
    `an agent (pid ${health.pid}) already runs at ${health.socket} with the config ${running}, not ${resolve(wanted.path)}; ` +
      `to use ${resolve(wanted.path)}: credagent stop && credagent start --config ${resolve(wanted.path)} (or start it on another socket with -a)`,
  );
}
