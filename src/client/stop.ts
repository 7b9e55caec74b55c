import { CredagentError } from "../errors.ts";
import { processEnded } from "../identity/process-info.ts";
import { isWindowsPipe } from "../paths.ts";
import { foregroundClock, pollUntil } from "../time/clock.ts";
import type { AgentApi } from "./client.ts";

const STOP_WAIT_MS = 10_000;

/**
 * Stops the agent answering `client` (pid as it said in its health answer) and waits until its
 * process is gone. On a Unix socket, SIGTERM; on a named pipe (Windows, where a process gets no
 * SIGTERM) the agent is asked over the pipe, which runs the same orderly shutdown.
 */
export async function stopAgent(client: AgentApi, pid: number): Promise<void> {
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
async function waitUnanswered(client: AgentApi): Promise<boolean> {
  const unanswered = await pollUntil(
    async () => {
      try {
        await client.health();
      } catch (err) {
        if (err instanceof CredagentError && err.code === "agent_not_running") return true;
      }
      return null;
    },
    { timeoutMs: STOP_WAIT_MS, intervalMs: 50, clock: foregroundClock },
  );
  return unanswered === true;
}

async function waitGone(pid: number): Promise<boolean> {
  return (await pollUntil(() => processEnded(pid) || null, { timeoutMs: STOP_WAIT_MS, intervalMs: 10, clock: foregroundClock })) === true;
}
