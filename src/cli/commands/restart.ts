import { AgentClient, type AgentApi } from "../../client/client.ts";
import { agentOf } from "../agent.ts";
import { startAgent } from "../../client/start.ts";
import { stopAgent } from "../../client/stop.ts";
import { CredagentError } from "../../errors.ts";
import { EXIT } from "../../exit-codes.ts";
import { stateDir } from "../../paths.ts";
import type { HealthResponse } from "../../wire/types.ts";
import { defineCommand, noPositionals } from "../command.ts";
import type { CliContext } from "../io.ts";
import { exportCode } from "../output/shell.ts";
import { offerStoreUnlock } from "./lock.ts";
import { shellDialect, shellOptions } from "./shell-flags.ts";

const usage = `usage: credagent restart [--if-outdated] [-s|-c|--fish|--powershell]

Stops the agent at $CRED_SOCK (else the default socket) and starts a new one with the options it ran
with (socket, config file, --keyring, -t: a lifetime counts again from now), then prints the shell
code 'credagent start' prints. Cached tokens come back from the store; a file store opened with
'credagent unlock' waits for its passphrase again (asked on a terminal, as start does). An agent
that systemd's socket started is stopped and the first connection starts the new one.

  --if-outdated   only when the agent's program file was replaced since it started (credagent was
                  upgraded: install.sh runs this); otherwise it changes nothing

A locked agent is not restarted (the new one would not be locked): 'credagent unlock' first.`;

export const restart = defineCommand(
  "restart",
  usage,
  { ...shellOptions, "if-outdated": { type: "boolean" } },
  async ({ values, positionals }, ctx) => {
    noPositionals(positionals);
    const dialect = shellDialect(values, ctx.env.SHELL);
    const client = agentOf(ctx, 5_000);
    const health = await client.health();
    const outcome = await restartAgent(ctx, client, health, { onlyIfOutdated: Boolean(values["if-outdated"]) });
    ctx.out(
      exportCode(
        dialect,
        [
          ["CRED_SOCK", outcome.health.socket],
          ["CRED_AGENT_PID", String(outcome.health.pid)],
        ],
        `Agent pid ${outcome.health.pid}`,
      ),
    );
    return EXIT.ok;
  },
);

/**
 * Restarts the agent that answers `client` (its `health` just read) with the options it runs with.
 * `onlyIfOutdated`: only when its program file was replaced since it started. Says what it did.
 */
export async function restartAgent(
  ctx: CliContext,
  client: AgentApi,
  health: HealthResponse,
  options: { onlyIfOutdated: boolean },
): Promise<{ restarted: boolean; health: HealthResponse }> {
  if (options.onlyIfOutdated && !health.binary_replaced) {
    if (health.binary_replaced === undefined)
      ctx.err(
        `credagent: the agent (pid ${health.pid}) is older than 'restart --if-outdated' and cannot tell; 'credagent restart' restarts it\n`,
      );
    return { restarted: false, health };
  }
  if (health.locked)
    throw new CredagentError(
      "locked",
      `the agent (pid ${health.pid}) is locked: a new agent would not be; run 'credagent unlock', then 'credagent restart'`,
    );
  const opts = parseStartedWith(health);
  await stopAgent(client, health.pid);
  const { health: next } = await startAgent({
    socketPath: opts.socket,
    configPath: opts.config,
    keyring: opts.keyring,
    lifetime: opts.lifetime,
    service: health.service,
    logDir: stateDir(ctx.pathEnv),
    env: ctx.env,
  });
  ctx.err(
    `credagent: restarted the agent at ${next.socket}: pid ${health.pid} -> ${next.pid}` +
      `${health.binary_replaced ? " (it ran the credagent program since replaced)" : ""}\n`,
  );
  await offerStoreUnlock(new AgentClient(opts.socket), next, ctx);
  return { restarted: true, health: next };
}

/** The options to start the next agent with: those the agent says it runs with (older agents: socket and config). */
function parseStartedWith(health: HealthResponse): { socket: string; config?: string; keyring?: string; lifetime?: string } {
  const given = health.started_with;
  if (!given) return { socket: health.socket, config: health.config?.exists ? health.config.path : undefined };
  const value = (flag: string) => {
    const i = given.indexOf(flag);
    return i >= 0 ? given[i + 1] : undefined;
  };
  return { socket: value("-a") ?? health.socket, config: value("--config"), keyring: value("--keyring"), lifetime: value("-t") };
}
