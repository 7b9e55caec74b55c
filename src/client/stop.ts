import { CredagentError } from "../errors.ts";
import { processEnded } from "../identity/process-info.ts";
import { isWindowsPipe } from "../paths.ts";
import type { AgentClient } from "./client.ts";

const STOP_WAIT_MS = 10_000;

/**
 * Stops the agent answering `client` (pid as it said in its health answer) and waits until its
 * process is gone. On a Unix socket, SIGTERM; on a named pipe (Windows, where a process gets no
 * SIGTERM) the agent is asked over the pipe, which runs the same orderly shutdown.
 */
export async function stopAgent(client: AgentClient, pid: number): Promise<void> {
  if (isWindowsPipe(client.socketPath)) {
    try {
      await client.shutdown();
    } catch (err) {
      // The agent may close the connection as it stops, before its answer is read: what counts
      // is that it stops answering, checked next.
      if (!(err instanceof CredagentError && err.code === "unavailable")) throw err;
    }
    if (!(await waitUnanswered(client)))
      throw new CredagentError("unavailable", `agent pid ${pid} did not stop within ${STOP_WAIT_MS / 1000}s`);
    // The pipe closes first; the process ends once the requests in flight are answered. "Stopped"
    // means gone, as with SIGTERM below: a start right after must not meet the old agent's lock.
    if (!(await waitGone(pid)))
      throw new CredagentError(
        "unavailable",
        `agent pid ${pid} closed its pipe but did not exit within ${STOP_WAIT_MS / 1000}s; 'taskkill /F /PID ${pid}' ends it`,
      );
    return;
  }
  try {
    process.kill(pid, "SIGTERM");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ESRCH") return; // gone already
    throw err;
  }
  if (!(await waitGone(pid))) {
    throw new CredagentError("unavailable", `agent pid ${pid} did not stop within ${STOP_WAIT_MS / 1000}s; 'kill -9 ${pid}' ends it`);
  }
}

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
