import { isWindowsPipe } from "../../paths.ts";
import { EXIT } from "../../exit-codes.ts";
import { stopAgent } from "../../client/stop.ts";
import { defineCommand, noPositionals } from "../command.ts";
import { unsetCode } from "../output/shell.ts";
import { shellDialect, shellOptions } from "./shell-flags.ts";
import { agentOf } from "../agent.ts";

const usage = `usage: credagent stop [-s|-c|--fish|--powershell]     (alias: credagent -k)

Stops the agent at $CRED_SOCK (else the default socket) and prints the shell code that unsets
CRED_SOCK and CRED_AGENT_PID:  eval "$(credagent stop)"

An agent that systemd started on its socket ('credagent service install') is stopped too, and
systemd starts a fresh one at the next connection; 'systemctl --user stop credagent.socket'
stops that.`;

export const stop = defineCommand("stop", usage, shellOptions, async ({ values, positionals }, ctx) => {
  noPositionals(positionals);
  const dialect = shellDialect(values, ctx.env.SHELL);
  const client = agentOf(ctx, 5_000);
  // The pid comes from the agent answering on the socket, not from CRED_AGENT_PID alone: a
  // stale variable must never make us signal an unrelated process that reused the pid.
  const { pid } = await client.health();
  const expected = ctx.env.CRED_AGENT_PID;
  if (expected && expected !== String(pid)) {
    ctx.err(`credagent stop: CRED_AGENT_PID is ${expected} but the agent at ${client.socketPath} is pid ${pid}; stopping pid ${pid}\n`);
  }
  await stopAgent(client, pid);
  ctx.out(
    unsetCode(dialect, ["CRED_SOCK", "CRED_AGENT_PID"], `Agent pid ${pid} ${isWindowsPipe(client.socketPath) ? "stopped" : "killed"}`),
  );
  return EXIT.ok;
});
