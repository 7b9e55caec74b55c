import { AgentClient } from "../../client/client.ts";
import { isWindowsPipe } from "../../paths.ts";
import { CredagentError } from "../../errors.ts";
import { EXIT } from "../../exit-codes.ts";
import { processEnded } from "../../identity/process-info.ts";
import { defineCommand, noPositionals } from "../command.ts";
import { unsetCode } from "../output/shell.ts";
import { shellDialect, shellOptions } from "./shell-flags.ts";

const usage = `usage: credagent stop [-s|-c|--fish|--powershell]     (alias: credagent -k)

Stops the agent at $CRED_SOCK (else the default socket) and prints the shell code that unsets
CRED_SOCK and CRED_AGENT_PID:  eval "$(credagent stop)"

An agent that systemd started on its socket ('credagent service install') is stopped too, and
systemd starts a fresh one at the next connection; 'systemctl --user stop credagent.socket'
stops that.`;

const STOP_WAIT_MS = 10_000;

export const stop = defineCommand("stop", usage, shellOptions, async ({ values, positionals }, ctx) => {
  noPositionals(positionals);
  const dialect = shellDialect(values, ctx.env.SHELL);
  const client = new AgentClient(ctx.socketPath(), 5_000);
  // The pid comes from the agent answering on the socket, not from CRED_AGENT_PID alone: a
  // stale variable must never make us signal an unrelated process that reused the pid.
  const { pid } = await client.health();
  const expected = ctx.env.CRED_AGENT_PID;
  if (expected && expected !== String(pid)) {
    ctx.err(`credagent stop: CRED_AGENT_PID is ${expected} but the agent at ${client.socketPath} is pid ${pid}; stopping pid ${pid}\n`);
  }
  // A named pipe's agent is on Windows, where a process gets no SIGTERM: it is asked instead.
  if (isWindowsPipe(client.socketPath)) {
    try {
      await client.shutdown();
    } catch (err) {
      // The agent may close the connection as it stops, before its answer is read: what counts
      // is that it stops answering, checked next.
      if (!(err instanceof CredagentError && err.code === "unavailable")) throw err;
    }
    if (!(await waitUnanswered(client))) throw new CredagentError("unavailable", `agent pid ${pid} did not stop within ${STOP_WAIT_MS / 1000}s`);
    // The pipe closes first; the process ends once the requests in flight are answered. "Stopped"
    // means gone, as with SIGTERM below: a start right after must not meet the old agent's lock.
    if (!(await waitGone(pid))) throw new CredagentError("unavailable", `agent pid ${pid} closed its pipe but did not exit within ${STOP_WAIT_MS / 1000}s; 'taskkill /F /PID ${pid}' ends it`);
    ctx.out(unsetCode(dialect, ["CRED_SOCK", "CRED_AGENT_PID"], `Agent pid ${pid} stopped`));
    return EXIT.ok;
  }
  process.kill(pid, "SIGTERM");
  if (!(await waitGone(pid))) {
    throw new CredagentError("unavailable", `agent pid ${pid} did not stop within ${STOP_WAIT_MS / 1000}s; 'kill -9 ${pid}' ends it`);
  }
  ctx.out(unsetCode(dialect, ["CRED_SOCK", "CRED_AGENT_PID"], `Agent pid ${pid} killed`));
  return EXIT.ok;
});

/** Until the agent no longer answers on its pipe. */
async function waitUnanswered(client: AgentClient): Promise<boolean> {
  const deadline = Date.now() + STOP_WAIT_MS;
  while (Date.now() < deadline) {
    try {
      await client.health();
    } catch (err) {
      if (err instanceof CredagentError && err.code === "agent_not_running") return true;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
}

async function waitGone(pid: number): Promise<boolean> {
  const deadline = Date.now() + STOP_WAIT_MS;
  while (Date.now() < deadline) {
    if (processEnded(pid)) return true;
    await new Promise((r) => setTimeout(r, 10));
  }
  return false;
}
